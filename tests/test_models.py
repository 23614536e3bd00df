"""Shapes and ranges of the generator and discriminator at every resolution."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from crackgan.config import SUPPORTED_RESOLUTIONS
from crackgan.models import (
    LATENT_DIM,
    FusedBatchNorm,
    SpectralNormConv2D,
    block_count,
    build_discriminator,
    build_generator,
)


@pytest.mark.parametrize("resolution", SUPPORTED_RESOLUTIONS)
@pytest.mark.parametrize("num_labels", [0, 3])
def test_shapes_at_every_resolution(resolution: int, num_labels: int) -> None:
    generator = build_generator(resolution, base_width=4, num_labels=num_labels)
    discriminator = build_discriminator(resolution, base_width=4, num_labels=num_labels,
                                        spectral_norm=num_labels > 0,
                                        batch_norm=num_labels == 0)
    latents = tf.random.normal((2, LATENT_DIM), seed=1)
    labels = tf.constant([0, 2])
    images = generator([latents, labels] if num_labels else latents, training=True)
    logits = discriminator([images, labels] if num_labels else images, training=True)

    assert images.shape == (2, resolution, resolution, 3)
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0
    assert logits.shape == (2,)


def test_block_count_follows_resolution() -> None:
    assert [block_count(r) for r in (32, 64, 128, 256)] == [3, 4, 5, 6]
    with pytest.raises(ValueError, match="resolution 48"):
        block_count(48)


def test_conditional_generator_depends_on_label() -> None:
    generator = build_generator(32, base_width=4, num_labels=2)
    latents = tf.random.normal((1, LATENT_DIM), seed=2)
    first = generator([latents, tf.constant([0])], training=False)
    second = generator([latents, tf.constant([1])], training=False)
    assert not np.allclose(first, second)


def test_spectral_norm_bounds_the_kernel_gain() -> None:
    layer = SpectralNormConv2D(8, 1, 1, "same")
    inputs = tf.random.normal((1, 4, 4, 16), seed=3)
    layer(inputs)
    layer.kernel.assign(layer.kernel * 50.0)

    # Power iteration converges to the largest singular value of the 1x1 kernel.
    for _ in range(30):
        layer(inputs, training=True)
    matrix = tf.reshape(layer.kernel, (16, 8)) / 1.0
    sigma = np.linalg.svd(matrix.numpy(), compute_uv=False)[0]
    normalised = tf.reshape(layer.kernel, (16, 8)).numpy() / sigma
    outputs = layer(inputs) - layer.bias
    expected = tf.reshape(inputs, (16, 16)).numpy() @ normalised
    np.testing.assert_allclose(tf.reshape(outputs, (16, 8)), expected, rtol=1e-3,
                               atol=1e-4)


def test_fused_batch_norm_computes_what_keras_batch_norm_does() -> None:
    inputs = tf.random.stateless_normal((8, 4, 4, 16), (0, 1)) * 3.0 + 1.0
    keras_norm, fused_norm = keras.layers.BatchNormalization(), FusedBatchNorm()
    keras_norm.build(inputs.shape)
    fused_norm.build(inputs.shape)
    for name, seed in (("gamma", 2), ("beta", 3)):
        values = tf.random.stateless_normal((16,), (seed, 0)) + 1.0
        getattr(keras_norm, name).assign(values)
        getattr(fused_norm, name).assign(values)

    # Training: outputs, input and scale gradients, and the moving statistics.
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(inputs)
        outputs = [layer(inputs, training=True) for layer in (keras_norm, fused_norm)]
        losses = [tf.reduce_sum(out * tf.sin(out)) for out in outputs]
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-5)
    for first, second in ((inputs, inputs), (keras_norm.gamma, fused_norm.gamma)):
        np.testing.assert_allclose(tape.gradient(losses[1], second),
                                   tape.gradient(losses[0], first), atol=1e-3)
    np.testing.assert_allclose(fused_norm.moving_mean, keras_norm.moving_mean,
                               atol=1e-6)
    np.testing.assert_allclose(fused_norm.moving_variance,
                               keras_norm.moving_variance, atol=1e-6)

    # Inference uses the moving statistics in both.
    np.testing.assert_allclose(fused_norm(inputs), keras_norm(inputs), atol=1e-5)
    assert [weight.name for weight in fused_norm.weights] == [
        weight.name for weight in keras_norm.weights]


def test_batch_norm_runs_under_mixed_precision() -> None:
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        generator = build_generator(32, base_width=4)
        discriminator = build_discriminator(32, base_width=4, batch_norm=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    latents = tf.random.normal((2, LATENT_DIM), seed=1)
    with tf.GradientTape() as tape:
        logits = discriminator(generator(latents, training=True), training=True)
        loss = tf.reduce_mean(logits)
    gradients = tape.gradient(loss, generator.trainable_variables)

    # Batch-norm variables stay float32; every gradient exists and is finite.
    assert {variable.dtype for variable in generator.non_trainable_variables} == {
        "float32"}
    assert all(np.isfinite(gradient).all() for gradient in gradients)
    assert generator(latents).dtype == tf.float32
