"""The regrouped convolutions and the fused Adam compute what TensorFlow's own do."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from crackgan import convolutions
from crackgan.gan import FusedAdam
from crackgan.models import build_discriminator, build_generator


def _values_and_gradients(function, inputs: tf.Tensor, kernel: tf.Tensor,
                          upstream: tf.Tensor) -> list[np.ndarray]:
    with tf.GradientTape() as tape:
        tape.watch([inputs, kernel])
        outputs = function(inputs, kernel)
    gradients = tape.gradient(outputs, [inputs, kernel], output_gradients=upstream)
    return [outputs.numpy()] + [gradient.numpy() for gradient in gradients]


def _assert_same(expected: list[np.ndarray], actual: list[np.ndarray]) -> None:
    for want, got in zip(expected, actual):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())


@pytest.mark.parametrize("form", [convolutions.space_to_depth_conv,
                                  convolutions.matmul_conv])
@pytest.mark.parametrize("side, channels", [(16, 3), (8, 5)])
def test_regrouped_conv_matches_tensorflow(form, side: int, channels: int) -> None:
    rng = np.random.default_rng(side)
    inputs = tf.constant(rng.normal(size=(3, side, side, channels)), tf.float32)
    kernel = tf.constant(rng.normal(size=(4, 4, channels, 6)), tf.float32)
    upstream = tf.constant(rng.normal(size=(3, side // 2, side // 2, 6)), tf.float32)

    def native(x: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d(x, k, 2, "SAME")

    _assert_same(_values_and_gradients(native, inputs, kernel, upstream),
                 _values_and_gradients(form, inputs, kernel, upstream))


@pytest.mark.parametrize("form", [convolutions.depth_to_space_conv_transpose,
                                  convolutions.matmul_conv_transpose])
@pytest.mark.parametrize("side, filters", [(8, 3), (4, 6)])
def test_regrouped_conv_transpose_matches_tensorflow(form, side: int,
                                                     filters: int) -> None:
    rng = np.random.default_rng(side)
    inputs = tf.constant(rng.normal(size=(3, side, side, 5)), tf.float32)
    kernel = tf.constant(rng.normal(size=(4, 4, filters, 5)), tf.float32)
    upstream = tf.constant(rng.normal(size=(3, 2 * side, 2 * side, filters)),
                           tf.float32)

    def native(x: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d_transpose(x, k, (3, 2 * side, 2 * side, filters), 2,
                                      "SAME")

    _assert_same(_values_and_gradients(native, inputs, kernel, upstream),
                 _values_and_gradients(form, inputs, kernel, upstream))


def test_forms_chosen_by_shape() -> None:
    def choice(side: int, channels: int) -> str:
        return convolutions.choose_conv(tf.zeros((1, side, side, channels)),
                                        tf.zeros((4, 4, channels, 8)))

    def transposed_choice(side: int, channels: int, filters: int) -> str:
        return convolutions.choose_conv_transpose(
            tf.zeros((1, side, side, channels)), tf.zeros((4, 4, filters, channels)))

    assert choice(64, 3) == "space_to_depth"
    assert choice(8, 256) == "matmul"
    assert choice(32, 64) == "native"
    assert transposed_choice(32, 64, 3) == "depth_to_space"
    assert transposed_choice(4, 512, 256) == "matmul"
    assert transposed_choice(8, 256, 128) == "native"
    assert not convolutions.regroupable(tf.zeros((1, 7, 7, 3)), tf.zeros((4, 4, 3, 8)),
                                        2, "same")
    assert not convolutions.regroupable(tf.zeros((1, 8, 8, 3)), tf.zeros((4, 4, 3, 8)),
                                        1, "same")
    assert not convolutions.regroupable(tf.zeros((1, 8, 8, 3)), tf.zeros((3, 3, 3, 8)),
                                        2, "same")
    assert not convolutions.regroupable(tf.zeros((1, 8, 8, 3)), tf.zeros((4, 4, 3, 8)),
                                        2, "valid")


def _op_types(layer: keras.layers.Layer, shape: tuple) -> set[str]:
    """Operation types in the traced graph of one layer call; convolutions with a
    stride other than 1 are named 'strided'."""
    function = tf.function(layer).get_concrete_function(tf.TensorSpec(shape))
    types = set()
    for op in function.graph.get_operations():
        types.add(op.type)
        if op.type.startswith("Conv2D") and list(op.get_attr("strides")) != [1] * 4:
            types.add("strided")
    return types


# The op that shows each regrouped form ran (none of them runs a strided kernel).
FORM_OPS = {"space_to_depth": "SpaceToDepth", "depth_to_space": "DepthToSpace",
            "matmul": "MatMul", "native": None}


def test_network_layers_run_every_form_and_match_tensorflow() -> None:
    # Every convolution of G and D, fed random inputs of its own shape, gives what
    # TensorFlow's own kernel gives with the same weights, through the form chosen.
    keras.utils.set_random_seed(3)
    generator = build_generator(32, base_width=8)
    discriminator = build_discriminator(32, base_width=8, batch_norm=False)
    forms = []
    for layer in generator.layers + discriminator.layers:
        if not isinstance(layer, (convolutions.Conv2D, convolutions.Conv2DTranspose)):
            continue
        shape = (2, *layer.input.shape[1:])
        inputs = tf.random.normal(shape, seed=5)
        transposed = isinstance(layer, convolutions.Conv2DTranspose)
        if transposed:
            form = convolutions.choose_conv_transpose(inputs, layer.kernel)
            expected = tf.nn.conv2d_transpose(inputs, layer.kernel,
                                              (2, *layer.output.shape[1:]), 2, "SAME")
        else:
            form = convolutions.choose_conv(inputs, layer.kernel)
            expected = tf.nn.conv2d(inputs, layer.kernel, 2, "SAME")
        if layer.use_bias:
            expected = expected + layer.bias
        np.testing.assert_allclose(layer(inputs).numpy(), expected.numpy(), atol=1e-5)

        # The form's own op runs, and no strided convolution kernel does.
        ops = _op_types(layer, shape)
        if FORM_OPS[form] is not None:
            assert FORM_OPS[form] in ops and "strided" not in ops, (layer.name, ops)
        else:
            assert "strided" in ops, (layer.name, ops)
        forms.append(form)
    assert forms == ["matmul", "native", "depth_to_space",
                     "space_to_depth", "native", "matmul"]


def test_native_layers_run_tensorflow_kernels() -> None:
    convolution = convolutions.Conv2D(4, 4, 2, "same", regroup=False)
    transposed = convolutions.Conv2DTranspose(3, 4, 2, "same", regroup=False)
    assert "strided" in _op_types(convolution, (2, 8, 8, 3))
    ops = _op_types(transposed, (2, 4, 4, 5))
    assert "strided" in ops and "MatMul" not in ops


def test_transposed_layer_applies_bias_and_activation() -> None:
    layer = convolutions.Conv2DTranspose(3, 4, 2, "same", activation="tanh",
                                         bias_initializer="ones")
    inputs = tf.random.normal((2, 8, 8, 5), seed=6)
    outputs = layer(inputs)
    expected = tf.tanh(tf.nn.conv2d_transpose(inputs, layer.kernel, (2, 16, 16, 3), 2,
                                              "SAME") + 1.0)
    np.testing.assert_allclose(outputs.numpy(), expected.numpy(), atol=1e-5)


def test_grouped_convolution_is_left_to_keras() -> None:
    keras.utils.set_random_seed(2)
    inputs = tf.random.normal((2, 16, 16, 8), seed=7)
    ours = convolutions.Conv2D(4, 4, 2, "same", groups=2)
    stock = keras.layers.Conv2D(4, 4, 2, "same", groups=2)
    ours.build(inputs.shape)
    stock.build(inputs.shape)
    stock.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(inputs).numpy(), stock(inputs).numpy(), atol=1e-6)


@pytest.mark.parametrize("form", [convolutions.space_to_depth_conv,
                                  convolutions.matmul_conv])
def test_second_order_gradient_under_xla(form) -> None:
    # R1 takes a gradient of an input gradient, inside an XLA function with
    # --jit-compile; every form must be twice differentiable there.
    inputs = tf.random.normal((2, 8, 8, 4), seed=8)
    kernel = tf.Variable(tf.random.normal((4, 4, 4, 6), seed=9))

    def penalty_gradient(function) -> tf.Tensor:
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(inputs)
                total = tf.reduce_sum(function(inputs, kernel) ** 2)
            penalty = tf.reduce_sum(inner.gradient(total, inputs) ** 2)
        return outer.gradient(penalty, kernel)

    def native(x: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d(x, k, 2, "SAME")

    expected = penalty_gradient(native)
    got = tf.function(lambda: penalty_gradient(form), jit_compile=True)()
    np.testing.assert_allclose(got.numpy(), expected.numpy(),
                               atol=1e-4 * float(tf.reduce_max(tf.abs(expected))))


def _adam_results(optimizer_class, start: np.ndarray, gradients: list) -> list:
    """Weight and both moments after applying gradients one by one."""
    weight = keras.Variable(start)
    optimizer = optimizer_class(1e-2, 0.5, 0.99, epsilon=1e-3)
    optimizer.build([weight])

    @tf.function
    def apply(gradient: tf.Tensor | tf.IndexedSlices) -> None:
        optimizer.apply_gradients([(gradient, weight)])

    for gradient in gradients:
        apply(gradient)
    return [weight.numpy(), optimizer._momentums[0].numpy(),
            optimizer._velocities[0].numpy()]


def test_fused_adam_follows_keras_adam() -> None:
    # Gradients from 1e-5 to 1: epsilon (1e-3) shapes the small steps.
    rng = np.random.default_rng(0)
    start = rng.normal(size=(5, 7)).astype("float32")
    gradients = [tf.constant(rng.normal(size=(5, 7)).astype("float32") * 10.0**-k)
                 for k in range(6) for _ in range(2)]
    keras_results = _adam_results(keras.optimizers.Adam, start, gradients)
    fused_results = _adam_results(FusedAdam, start, gradients)
    assert not np.allclose(fused_results[0], start)
    for keras_value, fused_value in zip(keras_results, fused_results):
        np.testing.assert_allclose(fused_value, keras_value, rtol=1e-5, atol=1e-9)


def test_fused_adam_keeps_keras_update_for_repeated_sparse_rows() -> None:
    # An embedding's gradient names row 0 twice, as repeated labels in a batch do.
    start = np.zeros((3, 2), "float32")
    gradient = tf.IndexedSlices(tf.ones((2, 2)), tf.constant([0, 0]),
                                tf.constant([3, 2]))
    keras_results = _adam_results(keras.optimizers.Adam, start, [gradient])
    fused_results = _adam_results(FusedAdam, start, [gradient])
    for keras_value, fused_value in zip(keras_results, fused_results):
        np.testing.assert_allclose(fused_value, keras_value, rtol=1e-6)


def test_regrouped_and_native_networks_agree() -> None:
    keras.utils.set_random_seed(7)
    latents = tf.random.normal((4, 128), seed=8)
    outputs = []
    weights = None
    for regroup in (True, False):
        generator = build_generator(64, base_width=8, regroup=regroup)
        discriminator = build_discriminator(64, base_width=8, spectral_norm=True,
                                            batch_norm=False, regroup=regroup)
        if weights is None:
            weights = (generator.get_weights(), discriminator.get_weights())
        else:
            generator.set_weights(weights[0])
            discriminator.set_weights(weights[1])
        images = generator(latents, training=True)
        outputs.append((images.numpy(), discriminator(images, training=True).numpy()))
    for regrouped, native in zip(*outputs):
        np.testing.assert_allclose(regrouped, native, atol=1e-5)


def test_auto_forms_regroup_on_the_cpu_only() -> None:
    on_cpu = not tf.config.list_logical_devices("GPU")
    assert convolutions.resolve_forms("auto") is on_cpu
    assert convolutions.resolve_forms("regrouped") is True
    assert convolutions.resolve_forms("native") is False
    with pytest.raises(ValueError, match="--conv-forms"):
        convolutions.resolve_forms("fast")
