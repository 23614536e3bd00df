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
# Values of TrainConfig.conv_forms.
CONV_FORMS = ("auto", "regrouped", "native")


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
    """Build a config dataclass from parsed flags, ignoring flags without a field."""
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
    # Rebuild the cache even when its fingerprint says it is up to date.
    force: bool = False
    # Reject photos whose short side is below this many pixels; 32 drops thumbnails
    # and icons while keeping every real phone photo.
    min_size: int = 32
    # Reject photos with more pixels than this, read from the header before decoding
    # (a decompression-bomb guard); 150 MP is above any phone camera's 108 MP.
    max_pixels: int = 150_000_000
    # Also drop near-duplicates: photos whose perceptual hash (dHash) differs from an
    # earlier one's by at most near_duplicate_distance of 64 bits.
    near_duplicates: bool = False
    # Hamming distance that counts as a near-duplicate. Re-encoded or resized copies
    # measured 0-1 bits apart; of the 144 development photos the closest two
    # different ones are 3 bits apart (near-identical jig shots), hence 2.
    near_duplicate_distance: int = 2
    # Spark partitions for decoding; 0 picks one or two per core (see ingest.py).
    partitions: int = 0
    # Who reads a photo's bytes: "worker" (the Python decoding worker opens its share
    # of the files the driver listed, so raw bytes skip the JVM and Arrow) or
    # "binaryfile" (Spark's binaryFile source lists and reads them in the JVM and
    # sends them through Arrow). Both need the input folder at the same path on
    # every executor.
    read_bytes: str = "worker"
    # Show Spark's and the JVM's own INFO logs.
    verbose: bool = False

    def __post_init__(self) -> None:
        require(self.resolution in SUPPORTED_RESOLUTIONS, "resolution", self.resolution,
                f"one of {SUPPORTED_RESOLUTIONS}")
        require(self.crop in ("center", "pad"), "crop", self.crop, "'center' or 'pad'")
        require(self.min_size >= 1, "min_size", self.min_size, "a positive integer")
        require(self.max_pixels >= self.min_size**2, "max_pixels", self.max_pixels,
                "an integer of at least --min-size squared")
        require(0 <= self.near_duplicate_distance <= 64, "near_duplicate_distance",
                self.near_duplicate_distance, "an integer from 0 to 64")
        require(self.partitions >= 0, "partitions", self.partitions,
                "0 (automatic) or a positive integer")
        require(self.read_bytes in ("worker", "binaryfile"), "read_bytes",
                self.read_bytes, "'worker' or 'binaryfile'")
        require(self.is_master_url(self.master), "master", self.master,
                "local, local[N], local[*], local[N,F], spark://HOST:PORT (or a "
                "comma list of HOST:PORT), yarn or k8s://URL (Spark 4 dropped Mesos)")

    @staticmethod
    def is_master_url(master: str) -> bool:
        """True for the Spark master URL forms spark-submit accepts."""
        import re  # Only this check uses regular expressions.

        host_port = r"(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+):[0-9]+"
        pattern = (r"local(\[([1-9][0-9]*|\*)(,[0-9]+)?\])?|yarn"
                   rf"|spark://{host_port}(,{host_port})*|k8s://\S+")
        return re.fullmatch(pattern, master) is not None


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
    # Images per step (over all devices); small batches give more steps per minute,
    # which is what a short CPU run on ~100 photos needs: 8 beat 16 on KID in 25
    # minutes on three of four seeds, 0.135 against 0.152 on average (docs/training.md).
    batch_size: int = 8
    # Seed of weights, latent vectors, data order and augmentation.
    seed: int = 0
    # Steps between checkpoints and sample grids; 500 is a few minutes on a CPU.
    snapshot_every: int = 500
    # Steps between status lines and log.jsonl records.
    log_every: int = 50
    # Start over: move an existing run folder aside (to <run-dir>.old-<time>).
    fresh: bool = False
    # DiffAugment transforms applied to real and fake images, or "none".
    augment: str = "color,translation,cutout"
    # ADA target for the mean sign of D(real); 0 keeps augmentation probability at 1.
    ada_target: float = 0.0
    # Images over which the ADA probability can move from 0 to 1 (stylegan2-ada: 500k;
    # ours is shorter because our runs are).
    ada_speed_images: int = 100_000
    # Keep an exponential moving average of the generator for samples and generation.
    ema: bool = True
    # Decay of the generator average per step (ramped up over the first steps).
    ema_decay: float = 0.999
    # Discriminator stabiliser: spectral norm, R1 penalty on reals, or none.
    d_reg: str = "r1"
    # Weight of the R1 penalty (with --d-reg r1).
    r1_gamma: float = 0.1
    # Steps between R1 penalties (lazy regularisation; the weight is scaled to match).
    r1_every: int = 4
    # Learning rates and Adam betas (DCGAN: 2e-4, 0.5, 0.999).
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    # Base channel widths of the generator and discriminator; 32 is 4.5x faster than
    # 64 on a CPU (docs/training.md); raise them on a GPU.
    g_width: int = 32
    d_width: int = 32
    # One generator for every label, chosen by a label input.
    conditional: bool = False
    # Random horizontal flips of real images (sensible for small sets).
    flip: bool = True
    # Wall-clock budget in minutes; the run ends cleanly with a checkpoint. 0: none.
    max_minutes: float = 0.0
    # Keras mixed_float16 policy; meant for GPUs.
    mixed_precision: bool = False
    # Compile the train step with XLA.
    jit_compile: bool = False
    # Convolution forms (crackgan/convolutions.py): 'regrouped' (faster on CPUs),
    # 'native' (TensorFlow's own kernels) or 'auto' (native when a GPU is visible).
    conv_forms: str = "auto"
    # TensorFlow intra- and inter-op threads; 0 lets TensorFlow choose.
    threads: int = 0
    # Deterministic TensorFlow ops (exact resume tests; slower).
    deterministic: bool = False
    # Show TensorFlow's own INFO logs.
    verbose: bool = False

    def __post_init__(self) -> None:
        require(self.steps > 0, "steps", self.steps, "a positive integer")
        require(
            self.batch_size > 0, "batch_size", self.batch_size, "a positive integer"
        )
        require(self.snapshot_every > 0, "snapshot_every", self.snapshot_every,
                "a positive integer")
        require(self.log_every > 0, "log_every", self.log_every, "a positive integer")
        require(0.0 <= self.ada_target < 1.0, "ada_target", self.ada_target,
                "a number in [0, 1)")
        require(self.ada_speed_images > 0, "ada_speed_images", self.ada_speed_images,
                "a positive integer")
        require(0.0 <= self.ema_decay < 1.0, "ema_decay", self.ema_decay,
                "a number in [0, 1)")
        require(self.d_reg in ("sn", "r1", "none"), "d_reg", self.d_reg,
                "'sn', 'r1' or 'none'")
        require(self.conv_forms in CONV_FORMS, "conv_forms", self.conv_forms,
                "'auto', 'regrouped' or 'native'")
        require(self.r1_gamma >= 0, "r1_gamma", self.r1_gamma, "a number >= 0")
        require(self.r1_every > 0, "r1_every", self.r1_every, "a positive integer")
        for name in ("g_lr", "d_lr", "g_width", "d_width"):
            value = getattr(self, name)
            require(value > 0, name, value, "a positive number")
        for name in ("beta1", "beta2"):
            require(0 <= getattr(self, name) < 1, name, getattr(self, name),
                    "a number in [0, 1)")
        require(self.max_minutes >= 0, "max_minutes", self.max_minutes, "a number >= 0")
        require(self.threads >= 0, "threads", self.threads, "an integer >= 0")


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
    # Checkpoint to load: a step number or a checkpoint path; None loads the latest.
    checkpoint: str | None = None
    # Label to generate with a conditional generator (required there, unused else).
    label: str | None = None
    # Images per generator call.
    batch_size: int = 64
    # Show TensorFlow's own INFO logs.
    verbose: bool = False

    def __post_init__(self) -> None:
        require(self.num > 0, "num", self.num, "a positive integer")
        require(
            self.batch_size > 0, "batch_size", self.batch_size, "a positive integer"
        )


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    """Options of evaluate.py."""

    # Cache folder written by data_preprocessing.py (the real images).
    data: str = DEFAULT_CACHE
    # Folder written by generate_images.py.
    generated: str = DEFAULT_GENERATED
    # Report folder: report.json, report.md and figures.
    out: str = DEFAULT_REPORT
    # Compare with the cache's images of this label; None takes the label in
    # generation.json, or every image when that is null too.
    label: str | None = None
    # Comma-separated metric names, or "all"; unknown names are an error that lists
    # the valid ones.
    metrics: str = "all"
    # Seed of every split and every small classifier trained here.
    seed: int = 0
    # Gradient steps (batches of 32) of each small CNN in the two-sample and
    # downstream tests, whatever the training set's size; 300 takes a few seconds
    # per classifier on 2 CPU cores and keeps the full report under 15 minutes.
    classifier_steps: int = 300
    # Random splits per classifier test; 5 gives a usable std at that cost.
    classifier_repeats: int = 5
    # Images per Inception forward pass; 50 keeps memory near 1 GB on a CPU.
    feature_batch_size: int = 50
    # Show TensorFlow's and PyTorch's own INFO logs.
    verbose: bool = False

    def __post_init__(self) -> None:
        require(self.classifier_steps > 0, "classifier_steps", self.classifier_steps,
                "a positive integer")
        require(self.classifier_repeats > 0, "classifier_repeats",
                self.classifier_repeats, "a positive integer")
        require(self.feature_batch_size > 0, "feature_batch_size",
                self.feature_batch_size, "a positive integer")
