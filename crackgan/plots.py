"""Every matplotlib figure crackgan writes: image grids, loss curves, report charts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from crackgan.fileio import atomic_write_with  # noqa: E402

# zlib level of image-grid PNGs: a 512x512 grid of photos takes 0.04 s at level 1
# against 0.13 s at Pillow's default 6, for files about 20% larger. Grids are
# written by every cache build and every snapshot, so the time is worth more.
GRID_PNG_COMPRESS_LEVEL = 1


def tile_images(
    images: np.ndarray, columns: int | None = None, pad: int = 2
) -> np.ndarray:
    """Tile N x H x W x 3 uint8 images into one uint8 mosaic with a white gutter."""
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    mosaic = np.full(
        (rows * (height + pad) + pad, columns * (width + pad) + pad, channels),
        255,
        dtype=np.uint8,
    )
    for index, image in enumerate(images):
        top = pad + (index // columns) * (height + pad)
        left = pad + (index % columns) * (width + pad)
        mosaic[top : top + height, left : left + width] = image
    return mosaic


def save_image_grid(
    images: np.ndarray,
    path: str | Path,
    columns: int | None = None,
    title: str | None = None,
) -> None:
    """Write a grid of uint8 images as a PNG at one screen pixel per image pixel.

    The figure is sized so the mosaic is shown without resampling; a title, when
    given, is drawn above it.
    """
    mosaic = tile_images(np.asarray(images, dtype=np.uint8), columns)
    dpi = 100
    title_inches = 0.35 if title else 0.0
    height_inches = mosaic.shape[0] / dpi + title_inches
    figure = plt.figure(figsize=(mosaic.shape[1] / dpi, height_inches), dpi=dpi)
    axes = figure.add_axes((0, 0, 1, mosaic.shape[0] / dpi / height_inches))
    axes.imshow(mosaic, interpolation="nearest")
    axes.axis("off")
    if title:
        figure.text(0.5, 1 - title_inches / height_inches / 2, title, ha="center",
                    va="center", fontsize=9)
    atomic_write_with(path, lambda tmp: figure.savefig(
        tmp, dpi=dpi, format="png",
        pil_kwargs={"compress_level": GRID_PNG_COMPRESS_LEVEL}))
    plt.close(figure)


def save_loss_curves(
    steps: Sequence[int],
    series: dict[str, Sequence[float]],
    path: str | Path,
    title: str = "Training losses",
) -> None:
    """Plot one line per named series against the training step."""
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    for name, values in series.items():
        axes.plot(steps, values, label=name, linewidth=1.2)
    axes.set_xlabel("step")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    atomic_write_with(path, lambda tmp: figure.savefig(tmp, format="png"))
    plt.close(figure)


def save_image_pairs(
    left: np.ndarray,
    right: np.ndarray,
    path: str | Path,
    captions: Sequence[str],
    title: str | None = None,
    pairs_per_row: int = 4,
) -> None:
    """Show uint8 image pairs side by side (left | right), each with a caption."""
    count = len(left)
    rows = max(1, math.ceil(count / pairs_per_row))
    figure, axes = plt.subplots(rows, pairs_per_row, figsize=(2.4 * pairs_per_row,
                                                               1.6 * rows + 0.4),
                                dpi=100, squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= count:
            continue
        gap = np.full((left.shape[1], 2, 3), 255, dtype=np.uint8)
        axis.imshow(np.concatenate([left[index], gap, right[index]], axis=1),
                    interpolation="nearest")
        axis.set_title(captions[index], fontsize=7)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    atomic_write_with(path, lambda tmp: figure.savefig(tmp, format="png"))
    plt.close(figure)


def save_accuracy_bars(
    names: Sequence[str],
    means: Sequence[float],
    stds: Sequence[float],
    path: str | Path,
    baseline: float | None = None,
    title: str = "Accuracy",
) -> None:
    """Bar chart of mean accuracies with std error bars and an optional baseline."""
    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    positions = np.arange(len(names))
    axes.bar(positions, means, yerr=stds, capsize=6, color="#4c72b0", alpha=0.85)
    for position, mean in zip(positions, means):
        axes.text(position, 0.02, f"{mean:.3f}", ha="center", va="bottom",
                  color="white", fontsize=9)
    if baseline is not None:
        axes.axhline(baseline, color="#c44e52", linestyle="--", linewidth=1,
                     label=f"majority class ({baseline:.3f})")
        axes.legend(loc="upper right", fontsize=8)
    axes.set_xticks(positions, list(names))
    axes.set_ylim(0, 1)
    axes.set_ylabel("accuracy on held-out real images")
    axes.set_title(title, fontsize=10)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    atomic_write_with(path, lambda tmp: figure.savefig(tmp, format="png"))
    plt.close(figure)
