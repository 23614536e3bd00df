"""Differentiable augmentation of real and fake batches before the discriminator.

DiffAugment (Zhao et al. 2020): colour, translation and cutout written in TensorFlow
ops so gradients reach the generator. Each transform is applied per image with
probability p; p is fixed at 1 or steered ADA-style (Karras et al. 2020) by the sign
of the discriminator's output on real images.
"""

from __future__ import annotations

import tensorflow as tf

TRANSFORMS = ("color", "translation", "cutout")
# Largest shift as a share of the image side; translated-in pixels are zero.
TRANSLATION_RATIO = 0.125
# Side of the cut-out square as a share of the image side.
CUTOUT_RATIO = 0.5


def parse_policy(policy: str) -> tuple[str, ...]:
    """Turn 'color,translation,cutout' or 'none' into a tuple of transform names."""
    if policy.strip().lower() in ("", "none"):
        return ()
    names = tuple(name.strip().lower() for name in policy.split(","))
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown:
        raise ValueError(
            f"--augment: unknown transform(s) {unknown}; expected a comma-separated "
            f"subset of {list(TRANSFORMS)} or 'none'"
        )
    return names


def _uniform(rng: tf.random.Generator, batch: int, low: float = 0.0,
             high: float = 1.0) -> tf.Tensor:
    return rng.uniform((batch, 1, 1, 1), low, high)


def adjust_color(images: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
    """Random brightness, saturation and contrast per image."""
    batch = tf.shape(images)[0]

    # Brightness: add a shift in [-0.5, 0.5].
    images = images + (_uniform(rng, batch) - 0.5)

    # Saturation: scale the distance from the grey value by [0, 2].
    grey = tf.reduce_mean(images, axis=3, keepdims=True)
    images = (images - grey) * _uniform(rng, batch, 0.0, 2.0) + grey

    # Contrast: scale the distance from the image mean by [0.5, 1.5].
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - mean) * _uniform(rng, batch, 0.5, 1.5) + mean


def translate(images: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
    """Shift each image by up to 1/8 of its side in x and y, filling with zeros."""
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]

    # Draw integer shifts per image.
    max_dy = tf.cast(tf.cast(height, tf.float32) * TRANSLATION_RATIO + 0.5, tf.int32)
    max_dx = tf.cast(tf.cast(width, tf.float32) * TRANSLATION_RATIO + 0.5, tf.int32)
    dy = rng.uniform((batch, 1), -max_dy, max_dy + 1, dtype=tf.int32)
    dx = rng.uniform((batch, 1), -max_dx, max_dx + 1, dtype=tf.int32)

    # Gather rows then columns from a zero-padded copy; out-of-range reads hit the pad.
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
    rows = tf.clip_by_value(tf.range(height)[None, :] - dy + 1, 0, height + 1)
    cols = tf.clip_by_value(tf.range(width)[None, :] - dx + 1, 0, width + 1)
    shifted = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(shifted, cols, axis=2, batch_dims=1)


def cutout(images: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
    """Zero one square of half the image side at a random place in each image."""
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    half_h = tf.cast(tf.cast(height, tf.float32) * CUTOUT_RATIO, tf.int32) // 2
    half_w = tf.cast(tf.cast(width, tf.float32) * CUTOUT_RATIO, tf.int32) // 2

    # Draw the square's centre per image.
    cy = rng.uniform((batch, 1, 1), 0, height, dtype=tf.int32)
    cx = rng.uniform((batch, 1, 1), 0, width, dtype=tf.int32)

    # Keep pixels outside the square.
    inside_y = tf.abs(tf.range(height)[None, :, None] - cy) < half_h
    inside_x = tf.abs(tf.range(width)[None, None, :] - cx) < half_w
    keep = tf.logical_not(tf.logical_and(inside_y, inside_x))
    return images * tf.cast(keep, images.dtype)[..., None]


_FUNCTIONS = {"color": adjust_color, "translation": translate, "cutout": cutout}


def augment(images: tf.Tensor, policy: tuple[str, ...], rng: tf.random.Generator,
            probability: tf.Tensor | float = 1.0) -> tf.Tensor:
    """Apply each transform of the policy to each image with the given probability.

    An empty policy returns the images unchanged. With probability 1 (plain
    DiffAugment) no per-image choice is drawn.
    """
    for name in policy:
        transformed = _FUNCTIONS[name](images, rng)
        if isinstance(probability, float) and probability >= 1.0:
            images = transformed
            continue
        chosen = rng.uniform((tf.shape(images)[0], 1, 1, 1)) < probability
        images = tf.where(chosen, transformed, images)
    return images


def adjust_probability(probability: float, real_sign_mean: float, target: float,
                       images_seen_in_interval: int, speed_images: int) -> float:
    """ADA update: move p up when D is over-confident on reals, down otherwise.

    p changes by images_seen_in_interval / speed_images in the direction of
    sign(r_t - target), clipped to [0, 1].
    """
    direction = 1.0 if real_sign_mean > target else -1.0
    step = direction * images_seen_in_interval / speed_images
    return min(max(probability + step, 0.0), 1.0)
