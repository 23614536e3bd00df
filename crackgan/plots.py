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


def tile_images(images: np.ndarray, columns: int | None = None, pad: int = 2) -> np.ndarray:
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
    atomic_write_with(path, lambda tmp: figure.savefig(tmp, dpi=dpi, format="png"))
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
