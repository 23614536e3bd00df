"""Faster forms of the DCGAN's 4x4, stride-2, 'same' convolutions on the CPU.

A 4x4 convolution with stride 2 over an image padded by one pixel on each side is,
exactly, a 2x2 convolution with stride 1 over that padded image rearranged by
`space_to_depth` (each 2x2 pixel block becomes one pixel with 4x the channels), with
the kernel's taps regrouped to match. The transposed convolution is the same
identity read backwards, ending in `depth_to_space`. The results equal TensorFlow's
own kernels up to float rounding; the variables keep their usual shapes, so
checkpoints do not depend on which form runs.

Which form is fastest depends on the layer's shape. On a 2-core AVX-512 CPU
(forward and both backward kernels, widths 64, batch 64) oneDNN's stride-2 kernels
ran at about 100 GFLOP/s on RGB images, 200 from 8x8 to 4x4 and 270 from 4x4 to
8x8, where the regrouped forms reached 125-160, 330 and 325 (docs/training.md): see
`choose_conv` and `choose_conv_transpose`.
"""

from __future__ import annotations

import tensorflow as tf
from keras import layers

from crackgan.config import CONV_FORMS

# The regrouping is exact only for this geometry.
KERNEL = 4
STRIDE = 2
# At most this many channels on the image side (RGB), the stride-1 form on 4x the
# channels wins.
FEW_CHANNELS = 4
# The small side (output of a convolution, input of a transposed one) at or below
# which one matrix multiply over explicit patches wins.
SMALL_SIDE = 4
PAD_ONE = [[0, 0], [1, 1], [1, 1], [0, 0]]


def _window(images: tf.Tensor, row: int, col: int, side: int) -> tf.Tensor:
    """images[:, row:row + side, col:col + side, :], with a Pad as its gradient.

    The gradient of Python slicing (StridedSliceGrad) is several times slower on the
    CPU, and under XLA tf.slice's own gradient becomes an op that has no gradient
    itself, which R1's second backward pass needs; a Pad is fast and differentiable.
    """
    height, width = images.shape[1], images.shape[2]
    paddings = [[0, 0], [row, height - row - side], [col, width - col - side], [0, 0]]

    @tf.custom_gradient
    def window(x: tf.Tensor) -> tuple[tf.Tensor, object]:
        def gradient(upstream: tf.Tensor) -> tf.Tensor:
            return tf.pad(upstream, paddings)

        return tf.slice(x, [0, row, col, 0], [-1, side, side, -1]), gradient

    return window(images)


def phase_kernel(kernel: tf.Tensor) -> tf.Tensor:
    """A [4, 4, C, O] kernel regrouped to the [2, 2, 4C, O] one acting on
    space_to_depth(pad(x)): tap (2q + r) becomes tap q of channel block r."""
    channels, filters = kernel.shape[2], kernel.shape[3]
    taps = tf.reshape(kernel, (2, 2, 2, 2, channels, filters))
    taps = tf.transpose(taps, (0, 2, 1, 3, 4, 5))
    return tf.reshape(taps, (2, 2, 4 * channels, filters))


def space_to_depth_conv(inputs: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """Stride-2 'same' 4x4 convolution as a stride-1 2x2 one on 4x the channels."""
    blocks = tf.nn.space_to_depth(tf.pad(inputs, PAD_ONE), 2)
    return tf.nn.conv2d(blocks, phase_kernel(kernel), 1, "VALID")


def matmul_conv(inputs: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """Stride-2 'same' 4x4 convolution as one matrix multiply over its patches.

    The patches of the 2x2 form are four shifted views of the regrouped image, so
    building them (and their gradient) is four slices, not sixteen.
    """
    side = inputs.shape[1] // 2
    channels = 4 * inputs.shape[3]
    blocks = tf.nn.space_to_depth(tf.pad(inputs, PAD_ONE), 2)
    patches = tf.concat([_window(blocks, row, col, side)
                         for row in (0, 1) for col in (0, 1)], axis=-1)
    weights = tf.reshape(phase_kernel(kernel), (4 * channels, kernel.shape[3]))
    outputs = tf.matmul(tf.reshape(patches, (-1, 4 * channels)), weights)
    return tf.reshape(outputs, (-1, side, side, kernel.shape[3]))


def depth_to_space_conv_transpose(inputs: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """Stride-2 'same' 4x4 transposed convolution ([4, 4, O, C] kernel) as a
    stride-1 2x2 one producing 4x the channels, then depth_to_space and a crop."""
    side = inputs.shape[1]
    filters = kernel.shape[2]
    shape = (tf.shape(inputs)[0], side + 1, side + 1, 4 * filters)
    blocks = tf.nn.conv2d_transpose(inputs, phase_kernel(kernel), shape, 1, "VALID")
    return _window(tf.nn.depth_to_space(blocks, 2), 1, 1, 2 * side)


def matmul_conv_transpose(inputs: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """Stride-2 'same' 4x4 transposed convolution ([4, 4, O, C] kernel) as one
    matrix multiply, its four shifted outputs summed, then depth_to_space and a crop
    (the adjoint of `matmul_conv`)."""
    side = inputs.shape[1]
    channels = 4 * kernel.shape[2]
    weights = tf.reshape(phase_kernel(kernel), (4 * channels, inputs.shape[3]))
    products = tf.matmul(tf.reshape(inputs, (-1, inputs.shape[3])), weights,
                         transpose_b=True)
    parts = tf.split(tf.reshape(products, (-1, side, side, 4 * channels)), 4, axis=-1)
    shifts = [(row, col) for row in (0, 1) for col in (0, 1)]
    blocks = tf.add_n([
        tf.pad(part, [[0, 0], [row, 1 - row], [col, 1 - col], [0, 0]])
        for part, (row, col) in zip(parts, shifts)
    ])
    return _window(tf.nn.depth_to_space(blocks, 2), 1, 1, 2 * side)


def regroupable(inputs: tf.Tensor, kernel: tf.Tensor, strides: object,
                padding: str) -> bool:
    """True when the layer is a 4x4, stride-2, 'same' one on a known even size."""
    stride = strides if isinstance(strides, int) else tuple(strides)
    side = inputs.shape[1]
    return (tuple(kernel.shape[:2]) == (KERNEL, KERNEL)
            and stride in (STRIDE, (STRIDE, STRIDE))
            and padding.upper() == "SAME"
            and side is not None and side == inputs.shape[2] and side % 2 == 0)


def choose_conv(inputs: tf.Tensor, kernel: tf.Tensor) -> str:
    """'space_to_depth', 'matmul' or 'native' for a regroupable convolution."""
    if kernel.shape[2] <= FEW_CHANNELS:
        return "space_to_depth"
    if inputs.shape[1] // 2 <= SMALL_SIDE:
        return "matmul"
    return "native"


def choose_conv_transpose(inputs: tf.Tensor, kernel: tf.Tensor) -> str:
    """'depth_to_space', 'matmul' or 'native' for a regroupable transposed one."""
    if kernel.shape[2] <= FEW_CHANNELS:
        return "depth_to_space"
    if inputs.shape[1] <= SMALL_SIDE:
        return "matmul"
    return "native"


# The regrouped forms by the names choose_conv and choose_conv_transpose return.
REGROUPED_CONVS = {"space_to_depth": space_to_depth_conv, "matmul": matmul_conv}
REGROUPED_TRANSPOSED = {"depth_to_space": depth_to_space_conv_transpose,
                        "matmul": matmul_conv_transpose}


def strided_conv(inputs: tf.Tensor, kernel: tf.Tensor, strides: object,
                 padding: str, regroup: bool = True) -> tf.Tensor:
    """A convolution in its fastest exact form (TensorFlow's own when none is, or
    when regroup is False)."""
    if regroup and regroupable(inputs, kernel, strides, padding):
        form = REGROUPED_CONVS.get(choose_conv(inputs, kernel))
        if form is not None:
            return form(inputs, kernel)
    return tf.nn.conv2d(inputs, kernel, strides, padding.upper())


def _transposed_shape(inputs: tf.Tensor, kernel: tf.Tensor, strides: object,
                      padding: str) -> tuple:
    """Output shape of a transposed convolution (no output padding)."""
    pair = (strides, strides) if isinstance(strides, int) else tuple(strides)
    dynamic = tf.shape(inputs)
    sides = []
    for axis, stride, size in zip((1, 2), pair, kernel.shape[:2]):
        side = inputs.shape[axis] if inputs.shape[axis] is not None else dynamic[axis]
        same = padding.upper() == "SAME"
        sides.append(side * stride if same else (side - 1) * stride + size)
    return (dynamic[0], *sides, kernel.shape[2])


def strided_conv_transpose(inputs: tf.Tensor, kernel: tf.Tensor, strides: object,
                           padding: str, regroup: bool = True) -> tf.Tensor:
    """A transposed convolution ([h, w, O, C] kernel, output `strides` times the
    input side) in its fastest exact form (TensorFlow's own when none is, or when
    regroup is False)."""
    if regroup and regroupable(inputs, kernel, strides, padding):
        form = REGROUPED_TRANSPOSED.get(choose_conv_transpose(inputs, kernel))
        if form is not None:
            return form(inputs, kernel)
    return tf.nn.conv2d_transpose(inputs, kernel, _transposed_shape(inputs, kernel,
                                                                   strides, padding),
                                  strides, padding.upper())


def resolve_forms(forms: str) -> bool:
    """Whether to regroup for a --conv-forms value: 'auto' regroups unless a GPU is
    visible (the forms were chosen by CPU measurements; cuDNN is left alone)."""
    if forms not in CONV_FORMS:
        raise ValueError(f"--conv-forms: got {forms!r}; expected one of {CONV_FORMS}")
    if forms == "auto":
        return not tf.config.list_logical_devices("GPU")
    return forms == "regrouped"


class Conv2D(layers.Conv2D):
    """keras.layers.Conv2D computed by `strided_conv` (same variables and config,
    plus `regroup`)."""

    def __init__(self, *args: object, regroup: bool = True, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.regroup = regroup

    def get_config(self) -> dict:
        return {**super().get_config(), "regroup": self.regroup}

    def convolution_op(self, inputs: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        if (self.data_format != "channels_last" or self.groups != 1
                or tuple(self.dilation_rate) != (1, 1)):
            return super().convolution_op(inputs, kernel)
        return strided_conv(inputs, kernel, tuple(self.strides), self.padding,
                            self.regroup)


class Conv2DTranspose(layers.Conv2DTranspose):
    """keras.layers.Conv2DTranspose computed by `strided_conv_transpose` (same
    variables and config, plus `regroup`)."""

    def __init__(self, *args: object, regroup: bool = True, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.regroup = regroup

    def get_config(self) -> dict:
        return {**super().get_config(), "regroup": self.regroup}

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        if (not self.regroup or self.data_format != "channels_last"
                or self.output_padding is not None
                or tuple(self.dilation_rate) != (1, 1)):
            return super().call(inputs)
        outputs = strided_conv_transpose(inputs, tf.convert_to_tensor(self.kernel),
                                         tuple(self.strides), self.padding)
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        if self.activation is not None:
            return self.activation(outputs)
        return outputs
