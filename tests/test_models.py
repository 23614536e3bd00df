"""Shapes and ranges of the generator and discriminator at every resolution."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from crackgan.config import SUPPORTED_RESOLUTIONS
from crackgan.models import (
    LATENT_DIM,
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
