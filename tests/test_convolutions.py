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


def test_network_layers_use_every_form_and_match_tensorflow() -> None:
    # Every convolution of G and D, fed random inputs of its own shape, gives what
    # TensorFlow's own kernel gives with the same weights.
    keras.utils.set_random_seed(3)
    generator = build_generator(32, base_width=8)
    discriminator = build_discriminator(32, base_width=8, batch_norm=False)
    forms = []
    for layer in generator.layers + discriminator.layers:
        if not isinstance(layer, (convolutions.Conv2D, convolutions.Conv2DTranspose)):
            continue
        inputs = tf.random.normal((2, *layer.input.shape[1:]), seed=5)
        if isinstance(layer, convolutions.Conv2D):
            forms.append(convolutions.choose_conv(inputs, layer.kernel))
            expected = tf.nn.conv2d(inputs, layer.kernel, 2, "SAME")
        else:
            forms.append(convolutions.choose_conv_transpose(inputs, layer.kernel))
            expected = tf.nn.conv2d_transpose(inputs, layer.kernel,
                                              (2, *layer.output.shape[1:]), 2, "SAME")
        if layer.use_bias:
            expected = expected + layer.bias
        np.testing.assert_allclose(layer(inputs).numpy(), expected.numpy(), atol=1e-5)
    assert forms == ["matmul", "native", "depth_to_space",
                     "space_to_depth", "native", "matmul"]


def test_fused_adam_follows_keras_adam() -> None:
    rng = np.random.default_rng(0)
    start = rng.normal(size=(5, 7)).astype("float32")
    gradients = [rng.normal(size=(5, 7)).astype("float32") for _ in range(12)]
    results = []
    for optimizer_class in (keras.optimizers.Adam, FusedAdam):
        weight = keras.Variable(start)
        optimizer = optimizer_class(1e-2, 0.5, 0.99)
        optimizer.build([weight])

        @tf.function
        def apply(gradient: tf.Tensor) -> None:
            optimizer.apply_gradients([(gradient, weight)])

        for gradient in gradients:
            apply(tf.constant(gradient))
        results.append([weight.numpy(), optimizer._momentums[0].numpy(),
                        optimizer._velocities[0].numpy()])
    assert not np.allclose(results[1][0], start)
    for keras_value, fused_value in zip(*results):
        np.testing.assert_allclose(fused_value, keras_value, rtol=1e-5, atol=1e-7)


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
