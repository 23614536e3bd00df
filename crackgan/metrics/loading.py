"""Reading evaluate.py's inputs: the cache folder and the generated-images folder.

Errors name the flag and the path, so a wrong folder gives a one-line message.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from crackgan.config import ConfigError

LOGGER = logging.getLogger(__name__)
GENERATED_NAME = re.compile(r"^\d+\.png$")


def read_cache(path: str | Path) -> dict[str, Any]:
    """Images, labels, label names, manifest and per-image sources of a cache folder."""
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"--data: {folder} is not a folder (expected the cache "
                          "written by data_preprocessing.py)")
    for name in ("manifest.json", "images.npy", "labels.npy"):
        if not (folder / name).is_file():
            raise ConfigError(f"--data: {folder / name} is missing (expected the cache "
                              "written by data_preprocessing.py)")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    images = np.load(folder / "images.npy")
    labels = np.load(folder / "labels.npy").astype(np.int64)
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) != len(labels):
        raise ConfigError(f"--data: {folder} has images {images.shape} and labels "
                          f"{labels.shape}; expected N x R x R x 3 and N")
    return {"images": images, "labels": labels, "manifest": manifest,
            "label_names": list(manifest["label_names"]),
            "sources": read_sources(folder / "images.parquet", len(images))}


def read_sources(parquet: Path, count: int) -> list[str] | None:
    """Each image's source (first path component), or None when paths have no folder."""
    if not parquet.exists():
        LOGGER.warning("%s is missing; splits can't be grouped by source", parquet)
        return None
    import pandas as pd

    table = pd.read_parquet(parquet, columns=["row", "path"]).sort_values("row")
    if len(table) != count or not np.array_equal(table["row"].to_numpy(),
                                                 np.arange(count)):
        raise ConfigError(f"--data: {parquet} rows don't match images.npy ({count})")
    parts = [path.split("/") for path in table["path"]]
    if any(len(part) < 2 for part in parts):
        return None
    return [part[0] for part in parts]


def read_generated(path: str | Path, resolution: int) -> tuple[np.ndarray, dict]:
    """Generated images (N x R x R x 3 uint8) and generation.json (or {})."""
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"--generated: {folder} is not a folder (expected the output "
                          "of generate_images.py)")
    files = sorted(p for p in folder.iterdir() if GENERATED_NAME.match(p.name))
    if len(files) < 2:
        raise ConfigError(f"--generated: {folder} holds {len(files)} numbered PNGs "
                          "(00000.png, ...); expected at least 2")
    images = np.stack([read_generated_image(p, resolution) for p in files])
    info_path = folder / "generation.json"
    info = {}
    if info_path.is_file():
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"--generated: {info_path}: not valid JSON "
                              f"({error})") from error
        if not isinstance(info, dict):
            raise ConfigError(f"--generated: {info_path}: expected a JSON object, "
                              f"got {type(info).__name__}")
    return images, info


def read_generated_image(path: Path, resolution: int) -> np.ndarray:
    """One generated PNG as R x R x 3 uint8; a bad file is a one-line error."""
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ConfigError(f"--generated: {path}: not a readable image "
                          f"({error})") from error
    if pixels.shape[:2] != (resolution, resolution):
        raise ConfigError(f"--generated: {path}: is {pixels.shape[1]}x"
                          f"{pixels.shape[0]}, but the cache's resolution is "
                          f"{resolution}")
    return pixels


def reference_label(
    requested: str | None, info: dict, label_names: list[str]
) -> str | None:
    """The real reference set's label: --label, else generation.json's, else None."""
    label = requested if requested is not None else info.get("label")
    if label is not None and label not in label_names:
        source = "--label" if requested is not None else "generation.json's label"
        raise ConfigError(f"{source}: got {label!r}, expected one of {label_names}")
    if requested is not None and info.get("label") not in (None, requested):
        LOGGER.warning("--label %r differs from the generated images' label %r",
                       requested, info.get("label"))
    return label
