"""Load the averaged (EMA) generator of a run and write generated images to a folder.

Latent vectors are drawn from a stateless RNG keyed by the seed, so the same seed
gives the same images whatever the batch size.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from crackgan.checkpoints import PREFIX, resolve_checkpoint
from crackgan.config import GenerateConfig
from crackgan.convolutions import resolve_forms
from crackgan.fileio import (
    atomic_write_json,
    check_disjoint,
    check_output_folder,
    replace_directory,
)
from crackgan.models import LATENT_DIM, build_generator
from crackgan.plots import save_image_grid
from crackgan.training import to_uint8

LOG = logging.getLogger(__name__)
GRID_COUNT = 64
# A folder holding this file was written by generate(), so it may be replaced.
MARKER = "generation.json"
OUT_WHAT = "crackgan generated folder"


def read_run_config(run_dir: str | Path) -> dict:
    """The config.json a training run wrote."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise ValueError(f"--run-dir: {run_dir} has no config.json; expected a run "
                         "folder written by train_gan.py")
    return json.loads(path.read_text(encoding="utf-8"))


def load_generator(run_dir: str | Path, checkpoint: str | None = None
                   ) -> tuple[keras.Model, dict, int]:
    """The EMA generator of a checkpoint, the run's config and the checkpoint's step."""
    run_config = read_run_config(run_dir)
    num_labels = len(run_config["label_names"]) if run_config["conditional"] else 0
    generator = build_generator(run_config["resolution"], run_config["g_width"],
                                num_labels, run_config.get("latent_dim", LATENT_DIM),
                                resolve_forms(run_config.get("conv_forms", "auto")))
    path = resolve_checkpoint(Path(run_dir) / "checkpoints", checkpoint)
    step = tf.Variable(0, dtype=tf.int64)
    status = tf.train.Checkpoint(generator_ema=generator, step=step).read(
        str(path / PREFIX))
    status.expect_partial().assert_existing_objects_matched()
    return generator, run_config, int(step.numpy())


def label_index(run_config: dict, label: str | None) -> int | None:
    """The label input for a conditional generator; None for an unconditional one."""
    names = run_config["label_names"]
    if not run_config["conditional"]:
        if label is not None and label != run_config.get("label"):
            raise ValueError(
                f"--label: {label!r} was given but the run was trained unconditionally "
                f"on {run_config.get('label') or 'all labels'}; omit --label"
            )
        return None
    if label not in names:
        raise ValueError(f"--label: got {label!r}; the run is conditional, so pass one "
                         f"of its labels {names}")
    return names.index(label)


def sample_images(generator: keras.Model, num: int, seed: int, batch_size: int,
                  label: int | None) -> np.ndarray:
    """num uint8 images from latents keyed by seed, generated in batches."""
    latents = tf.random.stateless_normal((num, LATENT_DIM), tf.constant([seed, 0],
                                                                        tf.int64))
    batches = []
    started = time.monotonic()
    for start in range(0, num, batch_size):

        # Generate one batch, in inference mode.
        batch = latents[start : start + batch_size]
        inputs = batch if label is None else [batch, tf.fill((len(batch),), label)]
        batches.append(to_uint8(generator(inputs, training=False)))

        # Progress.
        done = min(start + batch_size, num)
        LOG.info("generated %d/%d images (%.1f s)", done, num,
                 time.monotonic() - started)
    return np.concatenate(batches)


def generate(config: GenerateConfig) -> Path:
    """Write numbered PNGs, grid.png and generation.json; returns the folder."""

    # Refuse an --out that would replace the run or someone else's files, up front.
    out = Path(config.out).resolve()
    check_disjoint(out, "--out", config.run_dir, "--run-dir")
    check_output_folder(out, MARKER, "--out", OUT_WHAT)

    # Generate with the checkpoint's averaged generator.
    generator, run_config, step = load_generator(config.run_dir, config.checkpoint)
    label = label_index(run_config, config.label)
    images = sample_images(generator, config.num, config.seed, config.batch_size, label)

    # Write into a staging folder, then move it into place.
    staging = out.with_name(f".{out.name}.staging")
    if staging.is_dir():
        shutil.rmtree(staging)
    staging.unlink(missing_ok=True)
    staging.mkdir(parents=True)
    for index, image in enumerate(images):
        Image.fromarray(image).save(staging / f"{index:05d}.png")
    save_image_grid(images[:GRID_COUNT], staging / "grid.png", columns=8)
    atomic_write_json(staging / MARKER, {
        "checkpoint_step": step, "seed": config.seed, "count": config.num,
        "label": config.label if label is not None else run_config.get("label"),
        "resolution": run_config["resolution"], "run_dir": str(config.run_dir),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
    })
    replace_directory(staging, out, MARKER, "--out", OUT_WHAT)
    return out
