"""DiffAugment: shapes, ranges, gradients, the identity policy and the ADA update."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from crackgan.augment import (
    TRANSFORMS,
    adjust_probability,
    augment,
    cutout,
    parse_policy,
    translate,
)


def _images(seed: int = 0) -> tf.Tensor:
    return tf.random.stateless_uniform((4, 32, 32, 3), (seed, 1), -1.0, 1.0)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_transform_is_differentiable_and_keeps_shape(name: str) -> None:
    images = _images()
    rng = tf.random.Generator.from_seed(1)
    with tf.GradientTape() as tape:
        tape.watch(images)
        augmented = augment(images, (name,), rng)
        total = tf.reduce_sum(augmented * images)
    gradient = tape.gradient(total, images)

    assert augmented.shape == images.shape
    assert gradient is not None
    assert float(tf.reduce_sum(tf.abs(gradient))) > 0
    assert not np.allclose(augmented, images)


def test_none_policy_is_identity() -> None:
    images = _images()
    assert parse_policy("none") == ()
    result = augment(images, parse_policy("none"), tf.random.Generator.from_seed(1))
    np.testing.assert_array_equal(result, images)


def test_translation_and_cutout_keep_values_in_range() -> None:
    images = _images()
    rng = tf.random.Generator.from_seed(2)
    for function in (translate, cutout):
        result = function(images, rng).numpy()
        assert result.min() >= -1.0 and result.max() <= 1.0


def test_translation_moves_content_and_pads_with_zeros() -> None:
    images = tf.ones((64, 16, 16, 1))
    shifted = translate(images, tf.random.Generator.from_seed(3)).numpy()

    # Each image is either unshifted or has zero rows/columns at one edge only.
    zero_share = (shifted == 0).mean(axis=(1, 2, 3))
    assert zero_share.max() > 0
    assert zero_share.max() <= 1 - (1 - 2 / 16) ** 2 + 1e-6
    assert set(np.unique(shifted)) <= {0.0, 1.0}


def test_cutout_zeros_a_quarter_at_most() -> None:
    images = tf.ones((32, 16, 16, 3))
    result = cutout(images, tf.random.Generator.from_seed(4)).numpy()
    zero_share = (result == 0).mean(axis=(1, 2, 3))
    assert zero_share.max() <= 0.25 + 1e-6
    assert zero_share.min() > 0


def test_probability_zero_leaves_images_unchanged() -> None:
    images = _images()
    result = augment(images, TRANSFORMS, tf.random.Generator.from_seed(5),
                     tf.constant(0.0))
    np.testing.assert_array_equal(result, images)


def test_unknown_transform_names_the_flag() -> None:
    with pytest.raises(ValueError, match="--augment"):
        parse_policy("color,blur")


def test_ada_probability_moves_toward_target() -> None:
    assert adjust_probability(0.5, 0.9, 0.6, 1000, 10_000) == pytest.approx(0.6)
    assert adjust_probability(0.5, 0.1, 0.6, 1000, 10_000) == pytest.approx(0.4)
    assert adjust_probability(0.0, 0.1, 0.6, 1000, 10_000) == 0.0
