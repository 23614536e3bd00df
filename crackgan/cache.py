"""The image cache on disk: its fingerprint, its manifest, and its arrays.

data_preprocessing.py writes the cache through these functions and the training and
evaluation steps read it back with `load_cache`; the layout is the contract in
DESIGN.md (images.npy, labels.npy, manifest.json, images.parquet/, reals.png).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from crackgan.plots import save_image_grid

logger = logging.getLogger(__name__)

# Bump when the cache layout or the decoding rules change, so old caches rebuild.
CACHE_FORMAT_VERSION = 1
# Written last: a folder holding it is a complete cache this step may replace.
MANIFEST = "manifest.json"
CACHE_FILES = ("images.npy", "labels.npy", MANIFEST, "reals.png")
PARQUET_DIR = "images.parquet"
# reals.png shows at most this many images.
REALS_COUNT = 64
# Bytes of pixels read from Parquet per batch while filling images.npy.
FILL_BATCH_BYTES = 2 * 2**20


@dataclasses.dataclass(frozen=True)
class InputFile:
    """One listed photo: its path relative to the input folder, size and mtime."""

    relative: str
    size_bytes: int
    mtime_ns: int


def fingerprint(files: list[InputFile], input_root: Path, options: dict[str, Any]
                ) -> str:
    """A SHA-256 over every listed file's path, size and mtime, and the options.

    Any added, removed, resized or re-saved photo, or any changed option that
    affects the output, gives a different fingerprint.
    """
    digest = hashlib.sha256()
    header = {"version": CACHE_FORMAT_VERSION, "input": str(input_root.resolve()),
              "options": options}
    digest.update(json.dumps(header, sort_keys=True).encode("utf-8"))
    for item in sorted(files, key=lambda item: item.relative):
        digest.update(f"\n{item.relative}\0{item.size_bytes}\0{item.mtime_ns}".encode())
    return digest.hexdigest()


def read_manifest(cache_dir: str | Path) -> dict[str, Any] | None:
    """The cache's manifest, or None when there is none or it is unreadable."""
    path = Path(cache_dir) / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        logger.warning("ignoring unreadable %s: %s", path, error)
        return None


def current_manifest(cache_dir: str | Path, expected_fingerprint: str
                     ) -> dict[str, Any] | None:
    """The manifest of a complete cache with this fingerprint, else None.

    Complete means every contract file exists and images.npy holds as many rows as
    the manifest counts; the header is read without loading the pixels.
    """
    cache_dir = Path(cache_dir)
    manifest = read_manifest(cache_dir)
    if manifest is None or manifest.get("fingerprint") != expected_fingerprint:
        return None
    if not all((cache_dir / name).is_file() for name in CACHE_FILES):
        return None
    if not (cache_dir / PARQUET_DIR).is_dir():
        return None
    images = np.load(cache_dir / "images.npy", mmap_mode="r")
    labels = np.load(cache_dir / "labels.npy", mmap_mode="r")
    side = manifest["resolution"]
    expected_shape = (manifest["count"], side, side, 3)
    if images.shape != expected_shape or labels.shape != (manifest["count"],):
        return None
    return manifest


def fill_arrays(parquet_dir: Path, out_dir: Path, count: int, resolution: int,
                label_names: list[str]) -> None:
    """Write images.npy and labels.npy from images.parquet/, one batch at a time.

    Each batch's pixels are written at their rows' offsets in the .npy file (plain
    seeks and writes, not a memory map, so the pages written do not stay in this
    process's memory); memory stays at one batch whatever the number of images.
    """
    import pyarrow

    # Write the .npy header for the full shape, then the pixels row by row.
    row_bytes = resolution * resolution * 3
    labels = np.full(count, -1, dtype=np.int64)
    index_of = {name: index for index, name in enumerate(label_names)}
    seen = np.zeros(count, dtype=bool)
    with open(out_dir / "images.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {
            "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
            "fortran_order": False, "shape": (count, resolution, resolution, 3)})
        offset = handle.tell()
        handle.truncate(offset + count * row_bytes)
        for batch in parquet_batches(parquet_dir, ["row", "label", "pixels"],
                                     max(1, FILL_BATCH_BYTES // row_bytes)):
            for row, label, pixels in zip(batch.column("row").to_pylist(),
                                          batch.column("label").to_pylist(),
                                          batch.column("pixels").to_pylist()):
                assert len(pixels) == row_bytes and not seen[row], row
                handle.seek(offset + row * row_bytes)
                handle.write(pixels)
                labels[row] = index_of[label]
                seen[row] = True

    # Every row must have been written exactly once.
    assert seen.all(), f"{int((~seen).sum())} rows missing from {parquet_dir}"
    pyarrow.default_memory_pool().release_unused()
    np.save(out_dir / "labels.npy", labels)


def parquet_batches(parquet_dir: Path, columns: list[str], batch_rows: int
                    ) -> Iterator[Any]:
    """Record batches of every Parquet file in a folder, one row group at a time.

    Single-threaded and one row group per read, so memory holds one row group and
    one batch whatever the file's size: pyarrow's dataset scanner reads several
    files ahead, and iter_batches over a whole file reads ahead too (34 MiB for a
    12 MB file of twelve 1 MB row groups, against 14 MiB one group at a time).
    """
    import pyarrow.parquet as pa_parquet

    for path in sorted(parquet_dir.glob("*.parquet")):
        with pa_parquet.ParquetFile(path) as parquet_file:
            for group in range(parquet_file.num_row_groups):
                yield from parquet_file.iter_batches(
                    batch_size=batch_rows, row_groups=[group], columns=columns,
                    use_threads=False)


def write_reals(out_dir: Path, seed: int, title: str | None = None) -> None:
    """Write reals.png: up to REALS_COUNT cached images chosen with the seed."""
    images = np.load(out_dir / "images.npy", mmap_mode="r")
    count = min(REALS_COUNT, len(images))
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(images), size=count, replace=False))
    save_image_grid(np.asarray(images[chosen]), out_dir / "reals.png", title=title)


def load_cache(cache_dir: str | Path, mmap: bool = True
               ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Images, labels and manifest of a cache written by data_preprocessing.py.

    Raises FileNotFoundError naming the folder when the cache is missing or
    incomplete (manifest.json is written last, so its absence means incomplete).
    """
    cache_dir = Path(cache_dir)
    manifest = read_manifest(cache_dir)
    if manifest is None:
        raise FileNotFoundError(
            f"{cache_dir}: no complete cache (manifest.json missing); run "
            "data_preprocessing.py first")
    images = np.load(cache_dir / "images.npy", mmap_mode="r" if mmap else None)
    labels = np.load(cache_dir / "labels.npy")
    return images, labels, manifest
