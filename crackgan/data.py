"""The training input pipeline: batches of cached images as a function of the step.

Images come from the cache's memory-mapped images.npy. The order is a pure function of
(seed, step), so a resumed run reads exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class CacheInfo:
    """What training needs from a cache: where it is, its size and its labels."""

    path: Path
    resolution: int
    label_names: list[str]
    rows: np.ndarray  # Rows of images.npy used for training.
    row_labels: np.ndarray  # Label index of each used row.


def read_manifest(path: Path) -> dict:
    """manifest.json of a cache folder, with errors that name --data."""
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise ValueError(
            f"--data: {path} has no manifest.json; expected a cache folder written by "
            "data_preprocessing.py"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["resolution"] = int(manifest["resolution"])
        manifest["label_names"] = [str(name) for name in manifest["label_names"]]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError,
            ValueError) as error:
        raise ValueError(f"--data: {manifest_path} is not a valid cache manifest "
                         f"({error!r})") from error
    return manifest


def check_arrays(path: Path, manifest: dict) -> np.ndarray:
    """Labels of the cache, after checking images.npy and labels.npy match manifest."""
    for name in ("images.npy", "labels.npy"):
        if not (path / name).is_file():
            raise ValueError(f"--data: {path / name} is missing; expected a complete "
                             "cache written by data_preprocessing.py")
    resolution = manifest["resolution"]
    try:
        images = np.load(path / "images.npy", mmap_mode="r")
        labels = np.load(path / "labels.npy")
    except (OSError, ValueError) as error:
        raise ValueError(f"--data: can't read the arrays in {path} "
                         f"({error})") from error
    if images.dtype != np.uint8 or images.shape[1:] != (resolution, resolution, 3):
        raise ValueError(
            f"--data: {path / 'images.npy'} is {images.dtype} {images.shape}; expected "
            f"uint8 N x {resolution} x {resolution} x 3 as in manifest.json"
        )
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"--data: {path / 'labels.npy'} is {labels.dtype} "
                         f"{labels.shape}; expected integers of shape ({len(images)},)")
    if len(labels) and (labels.min() < 0
                        or labels.max() >= len(manifest["label_names"])):
        raise ValueError(f"--data: {path / 'labels.npy'} has indices outside the "
                         f"{len(manifest['label_names'])} label_names of manifest.json")
    return labels


def open_cache(path: str | Path, label: str | None = None) -> CacheInfo:
    """Read a cache's manifest and labels and select the rows of one label (or all)."""
    path = Path(path)
    manifest = read_manifest(path)
    label_names = manifest["label_names"]
    labels = check_arrays(path, manifest)

    # Select the rows of the requested label.
    rows = np.arange(len(labels))
    if label is not None:
        if label not in label_names:
            raise ValueError(
                f"--label: {label!r} is not in the cache at {path}; valid labels are "
                f"{label_names}"
            )
        rows = rows[labels == label_names.index(label)]
    if len(rows) == 0:
        raise ValueError(f"--data: the cache at {path} has no images to train on")
    return CacheInfo(path, manifest["resolution"], label_names, rows, labels[rows])


def batch_indices(step: tf.Tensor, seed: int, batch_size: int, count: int) -> tf.Tensor:
    """Positions (into the selected rows) of the images of one step's batch.

    Image k of the run is element k mod count of the permutation of epoch
    k div count; each epoch's permutation depends only on (seed, epoch).
    """
    positions = step * batch_size + tf.range(batch_size, dtype=tf.int64)
    epochs = positions // count
    first_epoch = epochs[0]

    # One permutation per epoch the batch touches.
    def permutation(epoch: tf.Tensor) -> tf.Tensor:
        keys = tf.random.stateless_uniform(
            (count,), tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        return tf.cast(tf.argsort(keys), tf.int64)

    epoch_range = tf.range(first_epoch, epochs[-1] + 1)
    permutations = tf.map_fn(permutation, epoch_range,
                             fn_output_signature=tf.TensorSpec((count,), tf.int64))
    index = tf.stack([epochs - first_epoch, positions % count], axis=1)
    return tf.gather_nd(permutations, index)


def make_dataset(cache: CacheInfo, batch_size: int, seed: int, start_step: int,
                 flip: bool) -> tf.data.Dataset:
    """An endless dataset of (images in [-1, 1], labels) batches from start_step on."""
    images = np.load(cache.path / "images.npy", mmap_mode="r")
    rows = cache.rows
    row_labels = cache.row_labels.astype(np.int32)
    resolution = cache.resolution

    # Read one batch's rows from the memory-mapped array.
    def read(positions: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(images[rows[positions]])

    def load(step: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        positions = batch_indices(step, seed, batch_size, len(rows))
        batch = tf.numpy_function(read, [positions], tf.uint8, stateful=False)
        batch = tf.reshape(batch, (batch_size, resolution, resolution, 3))
        batch = tf.cast(batch, tf.float32) / 127.5 - 1.0

        # Flip half of the images left-right, keyed by (seed, step).
        if flip:
            draw = tf.random.stateless_uniform(
                (batch_size, 1, 1, 1), tf.stack([tf.constant(seed + 1, tf.int64), step])
            )
            batch = tf.where(draw < 0.5, tf.reverse(batch, axis=[2]), batch)
        return batch, tf.gather(row_labels, positions)

    steps = tf.data.Dataset.range(start_step, np.iinfo(np.int64).max)
    return steps.map(load, num_parallel_calls=1).prefetch(2)
