"""A tiny cache following the contract of data_preprocessing.py, for training tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def make_cache(
    folder: Path, count: int = 12, resolution: int = 32, seed: int = 0
) -> Path:
    """Write blocky random colour images with alternating cracked/intact labels."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (count, 4, 4, 3)).astype(np.uint8)
    images = np.repeat(np.repeat(coarse, resolution // 4, 1), resolution // 4, 2)
    labels = np.arange(count) % 2
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "images.npy", images)
    np.save(folder / "labels.npy", labels.astype(np.int64))
    manifest = {
        "resolution": resolution,
        "count": count,
        "labels": {
            "cracked": int((labels == 0).sum()),
            "intact": int((labels == 1).sum()),
        },
        "label_names": ["cracked", "intact"],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder
