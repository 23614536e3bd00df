"""Atomic, numbered training checkpoints: write to a temporary folder, then rename.

A checkpoint is a folder ``step-NNNNNNN`` holding a tf.train.Checkpoint written with
``Checkpoint.write`` plus ``done.json``. It appears under its final name only once
complete, so a process killed mid-write leaves the previous checkpoints intact. The
newest ``keep`` checkpoints are kept.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import tensorflow as tf

from crackgan.fileio import atomic_write_json, replace_directory

LOG = logging.getLogger(__name__)
CHECKPOINT_PATTERN = re.compile(r"^step-(\d{7,})$")
PREFIX = "ckpt"


class AtomicCheckpoints:
    """Save, list, find and restore the checkpoints in one folder."""

    def __init__(self, directory: str | Path, checkpoint: tf.train.Checkpoint,
                 keep: int = 3) -> None:
        self.directory = Path(directory)
        self.checkpoint = checkpoint
        self.keep = keep

    def steps(self) -> list[int]:
        """Steps of the complete checkpoints, oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for child in self.directory.iterdir():
            match = CHECKPOINT_PATTERN.match(child.name)
            if match and (child / "done.json").is_file():
                found.append(int(match.group(1)))
        return sorted(found)

    def path_of(self, step: int) -> Path:
        return self.directory / f"step-{step:07d}"

    def latest(self) -> Path | None:
        steps = self.steps()
        return self.path_of(steps[-1]) if steps else None

    def save(self, step: int) -> Path:
        """Write the checkpoint of this step and drop those beyond the newest keep."""
        final = self.path_of(step)
        staging = self.directory / f".tmp-{final.name}"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)

        # Write the state, then the marker, then move the folder into place.
        self.checkpoint.write(str(staging / PREFIX))
        atomic_write_json(staging / "done.json", {"step": step})
        replace_directory(staging, final)

        # Drop the oldest complete checkpoints.
        for old_step in self.steps()[: -self.keep]:
            shutil.rmtree(self.path_of(old_step))
        return final

    def restore(self, path: str | Path) -> None:
        """Load a checkpoint folder into the tracked objects; all must match."""
        status = self.checkpoint.read(str(Path(path) / PREFIX))
        status.assert_existing_objects_matched()


def resolve_checkpoint(directory: str | Path, which: str | None) -> Path:
    """The checkpoint folder named by --checkpoint: None (latest), a step or a path."""
    directory = Path(directory)
    manager = AtomicCheckpoints(directory, tf.train.Checkpoint())
    if which is None:
        latest = manager.latest()
        if latest is None:
            raise ValueError(f"--run-dir: no checkpoint found in {directory}")
        return latest
    if which.isdigit():
        path = manager.path_of(int(which))
    else:
        path = Path(which)
    if not (path / "done.json").is_file():
        available = manager.steps()
        raise ValueError(
            f"--checkpoint: {which!r} is not a complete checkpoint; steps available in "
            f"{directory}: {available}"
        )
    return path
