"""Multi-scale sliced Wasserstein distance between local patches (Karras et al. 2018).

Pure numpy, so it runs without torch: images go through a Laplacian pyramid, random
7x7 patches of each level are normalised per channel, and the two patch sets are
compared with sorted 1-D Wasserstein distances along random directions.
"""

from __future__ import annotations

import numpy as np

from crackgan.metrics.base import EvaluationInputs, Metric, MetricResult

PATCH_SIZE = 7
PATCHES_PER_IMAGE = 128
DIRECTIONS = 512
REPEATS = 4
# The coarsest pyramid level; at 64x64 the levels are 64, 32 and 16.
MIN_LEVEL_SIZE = 16
BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def blur(images: np.ndarray) -> np.ndarray:
    """Separable 5-tap binomial blur of N x H x W x C float images, reflect padding."""
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    rows = sum(w * padded[:, i : i + images.shape[1]] for i, w in enumerate(BINOMIAL))
    return sum(w * rows[:, :, i : i + images.shape[2]] for i, w in enumerate(BINOMIAL))


def downsample(images: np.ndarray) -> np.ndarray:
    """Blur, then keep every second row and column."""
    return blur(images)[:, ::2, ::2]


def upsample(images: np.ndarray) -> np.ndarray:
    """Insert zeros between pixels, then blur with 4x gain to keep brightness."""
    count, height, width, channels = images.shape
    zeros = np.zeros((count, height * 2, width * 2, channels), dtype=images.dtype)
    zeros[:, ::2, ::2] = images
    return blur(zeros) * 4.0


def laplacian_pyramid(images: np.ndarray, min_size: int = MIN_LEVEL_SIZE) -> list:
    """Band-pass levels from full size down to min_size; the last is the low-pass."""
    levels = []
    current = images.astype(np.float32)
    while current.shape[1] > min_size and current.shape[1] % 2 == 0:
        smaller = downsample(current)
        levels.append(current - upsample(smaller))
        current = smaller
    levels.append(current)
    return levels


def extract_patches(level: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """N*P x (7*7*C) patches at positions (N x P x 2 top-left corners)."""
    offsets = np.arange(PATCH_SIZE)
    rows = positions[:, :, 0, None, None] + offsets[None, None, :, None]
    cols = positions[:, :, 1, None, None] + offsets[None, None, None, :]
    image_index = np.arange(len(level))[:, None, None, None]
    patches = level[image_index, rows, cols]
    return patches.reshape(-1, PATCH_SIZE * PATCH_SIZE * level.shape[-1])


def normalise(descriptors: np.ndarray, channels: int = 3) -> np.ndarray:
    """Zero mean and unit variance per colour channel over all patches and pixels."""
    shaped = descriptors.reshape(len(descriptors), -1, channels)
    mean = shaped.mean(axis=(0, 1))
    std = shaped.std(axis=(0, 1)) + 1e-8
    return ((shaped - mean) / std).reshape(descriptors.shape)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> float:
    """Mean 1-D Wasserstein distance of two equal-size sets along random directions."""
    assert a.shape == b.shape
    directions = rng.standard_normal((a.shape[1], DIRECTIONS)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    projected_a = np.sort(a @ directions, axis=0)
    projected_b = np.sort(b @ directions, axis=0)
    return float(np.mean(np.abs(projected_a - projected_b)))


def multiscale_swd(
    real: np.ndarray, generated: np.ndarray, rng: np.random.Generator
) -> tuple[list[float], list[float]]:
    """Per-level SWD (x1000) averaged over repeats, and its std over repeats.

    Both sets are cut to the same number of images and share patch positions, so
    two identical sets give exactly 0.
    """
    count = min(len(real), len(generated))
    if len(real) > count:
        real = real[np.sort(rng.choice(len(real), count, replace=False))]
    if len(generated) > count:
        generated = generated[np.sort(rng.choice(len(generated), count, replace=False))]
    real_levels = laplacian_pyramid(real)
    generated_levels = laplacian_pyramid(generated)

    # Patch descriptors per level, then repeated sliced distances.
    per_level = np.zeros((REPEATS, len(real_levels)))
    for level, (real_level, generated_level) in enumerate(
            zip(real_levels, generated_levels)):
        limit = real_level.shape[1] - PATCH_SIZE + 1
        for repeat in range(REPEATS):
            positions = rng.integers(0, limit, (count, PATCHES_PER_IMAGE, 2))
            per_level[repeat, level] = 1e3 * sliced_wasserstein(
                normalise(extract_patches(real_level, positions)),
                normalise(extract_patches(generated_level, positions)), rng)
    return per_level.mean(axis=0).tolist(), per_level.std(axis=0).tolist()


def compute(inputs: EvaluationInputs) -> MetricResult:
    """SWD per pyramid level and averaged over levels."""
    means, stds = multiscale_swd(inputs.real, inputs.generated, inputs.rng(3))
    sizes = [inputs.real.shape[1] >> level for level in range(len(means))]
    count = min(len(inputs.real), len(inputs.generated))
    return MetricResult(
        value=float(np.mean(means)), spread=float(np.mean(stds)),
        spread_kind=f"std over {REPEATS} draws of patches and directions",
        sample_sizes={"real": count, "generated": count,
                      "patches_per_image": PATCHES_PER_IMAGE},
        notes=["x1000, averaged over pyramid levels; the larger set is subsampled "
               "to the smaller one's size."],
        details={f"level_{size}": {"value": m, "spread": s}
                 for size, m, s in zip(sizes, means, stds)})


METRIC = Metric(
    name="swd", question="realistic", compute=compute,
    meaning="Sliced Wasserstein distance of 7x7 patches per pyramid level (x1000); "
            "0 is best.")
