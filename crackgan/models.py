"""DCGAN generator and discriminator sized from the resolution, with optional labels.

The generator maps a latent vector (plus, when conditional, a label embedding) to a
tanh image; the discriminator maps an image (and label) to one logit. The number of
up- and down-sampling blocks is log2(resolution / 4).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import layers

from crackgan import convolutions
from crackgan.config import SUPPORTED_RESOLUTIONS

LATENT_DIM = 128
# Widest layer as a multiple of the base width; caps the cost at 128 and 256 pixels.
MAX_WIDTH_MULTIPLIER = 8
WEIGHT_INIT_STDDEV = 0.02


def block_count(resolution: int) -> int:
    """Number of stride-2 blocks between 4x4 and the given resolution."""
    if resolution not in SUPPORTED_RESOLUTIONS:
        raise ValueError(
            f"resolution {resolution} is not supported; expected one of "
            f"{SUPPORTED_RESOLUTIONS}"
        )
    return int(math.log2(resolution // 4))


def block_widths(base_width: int, blocks: int) -> list[int]:
    """Channel widths from the 4x4 end outwards: base * 2^k, capped, k = blocks-1..0."""
    return [
        base_width * min(2**k, MAX_WIDTH_MULTIPLIER) for k in range(blocks - 1, -1, -1)
    ]


def _init() -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(stddev=WEIGHT_INIT_STDDEV)


class SpectralNormConv2D(layers.Layer):
    """A 2-D convolution whose kernel is divided by its largest singular value.

    One power iteration per training call (Miyato et al. 2018); the estimate of the
    singular vector is kept as a non-trainable weight, and the gradient flows through
    the normalisation.
    """

    def __init__(self, filters: int, kernel_size: int, strides: int, padding: str,
                 regroup: bool = True, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.regroup = regroup
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding.upper()

    def build(self, input_shape: tuple[int, ...]) -> None:
        shape = (self.kernel_size, self.kernel_size, int(input_shape[-1]), self.filters)
        self.kernel = self.add_weight(shape=shape, initializer=_init(), name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros",
                                    name="bias")
        self.singular_u = self.add_weight(
            shape=(1, self.filters), initializer=keras.initializers.RandomNormal(),
            trainable=False, name="singular_u",
        )

    def call(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        # Estimate the largest singular value by one power iteration.
        matrix = tf.reshape(self.kernel, (-1, self.filters))
        u_old = tf.convert_to_tensor(self.singular_u)
        v = tf.math.l2_normalize(tf.matmul(u_old, matrix, transpose_b=True))
        u = tf.math.l2_normalize(tf.matmul(v, matrix))
        u, v = tf.stop_gradient(u), tf.stop_gradient(v)
        sigma = tf.reduce_sum(tf.matmul(v, matrix) * u)
        if training:
            self.singular_u.assign(u)

        # Convolve with the normalised kernel.
        kernel = tf.cast(self.kernel / sigma, inputs.dtype)
        outputs = convolutions.strided_conv(inputs, kernel, self.strides,
                                            self.padding, self.regroup)
        return tf.nn.bias_add(outputs, tf.cast(self.bias, inputs.dtype))


class FusedBatchNorm(layers.Layer):
    """Batch normalisation over the channel axis of NHWC images in one fused op.

    Computes what keras.layers.BatchNormalization computes (same variables, names,
    momentum and epsilon; the moving variance takes the biased batch variance), but
    Keras 3 builds that layer from separate moment and arithmetic ops, several passes
    over every activation forward and backward, while TensorFlow's fused kernel (and
    its gradient) makes one or two. Variables stay float32 under mixed precision.
    """

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, input_shape: tuple[int, ...]) -> None:
        # float32 even inside a mixed-precision model: the fused op requires it.
        shape = (int(input_shape[-1]),)
        self.gamma = self.add_weight(shape=shape, initializer="ones", autocast=False,
                                     name="gamma")
        self.beta = self.add_weight(shape=shape, initializer="zeros", autocast=False,
                                    name="beta")
        self.moving_mean = self.add_weight(shape=shape, initializer="zeros",
                                           trainable=False, autocast=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight(shape=shape, initializer="ones",
                                               trainable=False, autocast=False,
                                               name="moving_variance")

    def call(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        # Inference normalises with the moving statistics.
        if not training:
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs, self.gamma, self.beta, mean=self.moving_mean,
                variance=self.moving_variance, epsilon=self.epsilon,
                is_training=False)
            return outputs

        # Training normalises with the batch's statistics and updates the moving ones
        # (the op returns the unbiased variance; Keras averages the biased one).
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), variance.dtype)
        variance = variance * (count - 1.0) / count
        self.moving_mean.assign(
            self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return outputs


def build_generator(resolution: int, base_width: int = 64, num_labels: int = 0,
                    latent_dim: int = LATENT_DIM, regroup: bool = True) -> keras.Model:
    """DCGAN generator: project to 4x4, then stride-2 transposed convolutions.

    With num_labels > 0 the model takes [latent, label] and concatenates a learned
    label embedding to the latent vector. regroup picks the faster exact forms of
    crackgan.convolutions (False: TensorFlow's own kernels; same weights either way).
    """
    blocks = block_count(resolution)
    widths = block_widths(base_width, blocks)

    # Inputs, with the label embedding joined to the latent vector.
    latent = keras.Input((latent_dim,), name="latent")
    inputs: list[keras.KerasTensor] = [latent]
    x = latent
    if num_labels:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        embedded = layers.Embedding(num_labels, latent_dim,
                                    name="label_embedding")(label)
        x = layers.Concatenate()([latent, embedded])

    # Project and reshape to 4x4.
    x = layers.Dense(4 * 4 * widths[0], use_bias=False, kernel_initializer=_init())(x)
    x = layers.Reshape((4, 4, widths[0]))(x)
    x = layers.ReLU()(FusedBatchNorm()(x))

    # Upsample by two per block; the last block produces the RGB image.
    for width in widths[1:]:
        x = convolutions.Conv2DTranspose(width, 4, 2, "same", use_bias=False,
                                         kernel_initializer=_init(),
                                         regroup=regroup)(x)
        x = layers.ReLU()(FusedBatchNorm()(x))
    x = convolutions.Conv2DTranspose(3, 4, 2, "same", kernel_initializer=_init(),
                                     regroup=regroup)(x)
    image = layers.Activation("tanh", dtype="float32", name="image")(x)
    return keras.Model(inputs, image, name="generator")


def _down_block(x: keras.KerasTensor, width: int, spectral_norm: bool,
                batch_norm: bool, regroup: bool) -> keras.KerasTensor:
    """One stride-2 convolution, optional batch norm, LeakyReLU 0.2."""
    if spectral_norm:
        x = SpectralNormConv2D(width, 4, 2, "same", regroup)(x)
    else:
        x = convolutions.Conv2D(width, 4, 2, "same", use_bias=not batch_norm,
                                kernel_initializer=_init(), regroup=regroup)(x)
    if batch_norm:
        x = FusedBatchNorm()(x)
    return layers.LeakyReLU(0.2)(x)


def build_discriminator(resolution: int, base_width: int = 64, num_labels: int = 0,
                        spectral_norm: bool = False, batch_norm: bool = True,
                        regroup: bool = True) -> keras.Model:
    """DCGAN discriminator: stride-2 convolutions down to 4x4, then one logit.

    The first block never has batch norm (as in DCGAN). With num_labels > 0 the model
    takes [image, label] and adds a projection term <embed(label), features>
    (Miyato and Koyama 2018). The logit layer is float32 under mixed precision.
    regroup is as in build_generator.
    """
    blocks = block_count(resolution)
    widths = list(reversed(block_widths(base_width, blocks)))

    # Downsample by two per block to 4x4 features.
    image = keras.Input((resolution, resolution, 3), name="image")
    inputs: list[keras.KerasTensor] = [image]
    x = image
    for index, width in enumerate(widths):
        x = _down_block(x, width, spectral_norm, batch_norm and index > 0, regroup)
    features = layers.Flatten(dtype="float32")(x)

    # One logit from the features, plus the label projection when conditional.
    if spectral_norm:
        x = layers.Reshape((4, 4, widths[-1]), dtype="float32")(features)
        last = SpectralNormConv2D(1, 4, 1, "valid", dtype="float32")
        logit = layers.Flatten()(last(x))
    else:
        logit = layers.Dense(1, kernel_initializer=_init(), dtype="float32")(features)
    if num_labels:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        embedded = layers.Embedding(num_labels, int(features.shape[-1]),
                                    embeddings_initializer=_init(), dtype="float32",
                                    name="label_projection")(label)
        projection = layers.Dot(axes=1, dtype="float32")([embedded, features])
        logit = layers.Add(dtype="float32")([logit, projection])
    logit = layers.Reshape((), dtype="float32", name="logit")(logit)
    return keras.Model(inputs, logit, name="discriminator")
