"""One frozen dataclass per pipeline step: its options, their defaults, and validation.

Each field's comment explains its default. Command-line flags carry the same names
with dashes (``snapshot_every`` -> ``--snapshot-every``), so a validation error can
name the flag the user typed.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, TypeVar

DEFAULT_INPUT = "data/images"
DEFAULT_CACHE = "outputs/cache"
DEFAULT_RUN_DIR = "outputs/run"
DEFAULT_GENERATED = "outputs/generated"
DEFAULT_REPORT = "outputs/report"
SUPPORTED_RESOLUTIONS = (32, 64, 128, 256)


class ConfigError(ValueError):
    """An option has a value the step cannot use; the message names the flag."""


def flag_name(field: str) -> str:
    """The command-line flag for a dataclass field name."""
    return "--" + field.replace("_", "-")


def require(condition: bool, field: str, value: Any, expected: str) -> None:
    """Raise ConfigError naming the flag, the value found and what was expected."""
    if not condition:
        raise ConfigError(f"{flag_name(field)}: got {value!r}, expected {expected}")


ConfigT = TypeVar("ConfigT")


def from_namespace(cls: type[ConfigT], namespace: argparse.Namespace) -> ConfigT:
    """Build a config dataclass from parsed flags, ignoring flags it has no field for."""
    names = {field.name for field in dataclasses.fields(cls)}
    values = {key: value for key, value in vars(namespace).items() if key in names}
    return cls(**values)


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """Options of data_preprocessing.py."""

    # Folder of photos, searched recursively; an image's label is its parent folder.
    input: str = DEFAULT_INPUT
    # Cache folder written by this step and read by train_gan.py and evaluate.py.
    output: str = DEFAULT_CACHE
    # Side of the square images in pixels; 64 trains in minutes on a CPU.
    resolution: int = 64
    # "center" crops the largest centred square; "pad" letterboxes the whole photo.
    crop: str = "center"
    # Spark master; local[*] uses every core of this machine.
    master: str = "local[*]"
    # Seed for anything random in this step (the order of images in reals.png).
    seed: int = 0
    # Show Spark's and the JVM's own INFO logs.
    verbose: bool = False

    def __post_init__(self) -> None:
        require(self.resolution in SUPPORTED_RESOLUTIONS, "resolution", self.resolution,
                f"one of {SUPPORTED_RESOLUTIONS}")
        require(self.crop in ("center", "pad"), "crop", self.crop, "'center' or 'pad'")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Options of train_gan.py."""

    # Cache folder written by data_preprocessing.py.
    data: str = DEFAULT_CACHE
    # Run folder: config, checkpoints, samples, logs.
    run_dir: str = DEFAULT_RUN_DIR
    # Train on images of this label only; None trains on every image.
    label: str | None = None
    # Total optimisation steps the run should reach; a larger value continues a run.
    steps: int = 2000
    # Images per step.
    batch_size: int = 64
    # Seed of weights, latent vectors, data order and augmentation.
    seed: int = 0
    # Show TensorFlow's own INFO logs.
    verbose: bool = False

    def __post_init__(self) -> None:
        require(self.steps > 0, "steps", self.steps, "a positive integer")
        require(self.batch_size > 0, "batch_size", self.batch_size, "a positive integer")


@dataclasses.dataclass(frozen=True)
class GenerateConfig:
    """Options of generate_images.py."""

    # Run folder written by train_gan.py.
    run_dir: str = DEFAULT_RUN_DIR
    # Folder the PNGs, grid.png and generation.json are written to.
    out: str = DEFAULT_GENERATED
    # Number of images to write.
    num: int = 1000
    # Seed of the latent vectors: the same seed gives the same images.
    seed: int = 0
    # Show TensorFlow's own INFO logs.
    verbose: bool = False

    def __post_init__(self) -> None:
        require(self.num > 0, "num", self.num, "a positive integer")


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    """Options of evaluate.py."""

    # Cache folder written by data_preprocessing.py (the real images).
    data: str = DEFAULT_CACHE
    # Folder written by generate_images.py.
    generated: str = DEFAULT_GENERATED
    # Report folder: report.json, report.md and figures.
    out: str = DEFAULT_REPORT
    # Seed of every split and every small classifier trained here.
    seed: int = 0
    # Show TensorFlow's and PyTorch's own INFO logs.
    verbose: bool = False
