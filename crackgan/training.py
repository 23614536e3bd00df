"""The training loop of train_gan.py: set-up, resume, status lines, snapshots, stops.

The train step itself lives in crackgan/gan.py and checkpoint files in
crackgan/checkpoints.py; this module decides when each runs and what is logged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from crackgan.checkpoints import AtomicCheckpoints
from crackgan.config import ConfigError, TrainConfig
from crackgan.data import CacheInfo, make_dataset, open_cache
from crackgan.fileio import atomic_write_bytes, atomic_write_json
from crackgan.gan import Gan, choose_strategy
from crackgan.logs import JsonlWriter, read_jsonl
from crackgan.models import LATENT_DIM
from crackgan.plots import save_image_grid, save_loss_curves

LOG = logging.getLogger(__name__)
SAMPLE_COUNT = 64
# Seed offset of the fixed latent batch used for every sample grid.
SAMPLE_SEED_OFFSET = 7919
# Mean D(fake) below this for this many log intervals in a row is flagged.
D_WINNING_PROBABILITY = 0.05
D_WINNING_INTERVALS = 3
# Options that change the networks' shapes; a resumed run must keep them.
ARCHITECTURE_FIELDS = ("g_width", "d_width", "conditional", "d_reg", "label",
                       "mixed_precision")


def _plugin_metadata(plugin_name: str) -> bytes:
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin_name
    return metadata.SerializeToString()


def summary_scalar(name: str, value: float, step: int) -> None:
    """A TensorBoard scalar via tf.summary.write (the tensorboard package is absent)."""
    tf.summary.write(name, tf.constant(value, tf.float32), step=step,
                     metadata=_plugin_metadata("scalars"))


def summary_images(name: str, images: np.ndarray, step: int) -> None:
    """TensorBoard images as PNG strings in the layout of the images plugin."""
    encoded = [tf.io.encode_png(image) for image in images]
    height, width = images.shape[1:3]
    tensor = tf.stack([tf.constant(str(width)), tf.constant(str(height)), *encoded])
    tf.summary.write(name, tensor, step=step, metadata=_plugin_metadata("images"))


def _duration(seconds: float) -> str:
    """Seconds as H:MM:SS (hours unbounded)."""
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


class TrainingDiverged(RuntimeError):
    """Non-finite values came back before a new good checkpoint could be written."""


def setup_tensorflow(config: TrainConfig) -> None:
    """Threads, determinism and precision policy; call before building any model."""
    if config.threads:
        tf.config.threading.set_intra_op_parallelism_threads(config.threads)
        tf.config.threading.set_inter_op_parallelism_threads(config.threads)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    if config.mixed_precision:
        if not tf.config.list_physical_devices("GPU"):
            LOG.warning("--mixed-precision is meant for GPUs; on this CPU it is slower")
        tf.keras.mixed_precision.set_global_policy("mixed_float16")


def check_run_dir_location(config: TrainConfig) -> Path:
    """The run folder, refusing a file or a folder that overlaps --data."""
    run_dir = Path(config.run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--run-dir: {run_dir} is a file, expected a folder")
    run, data = run_dir.resolve(), Path(config.data).resolve()
    if run == data or data in run.parents or run in data.parents:
        raise ConfigError(
            f"--run-dir: {run_dir} overlaps --data {config.data}; use a separate "
            "folder, nothing is written into an input folder"
        )
    return run_dir


def check_saved_config(run_dir: Path, config: TrainConfig, cache: CacheInfo) -> None:
    """Refuse to resume a run whose saved options or cache don't match this one."""
    saved_path = run_dir / "config.json"
    if not saved_path.is_file():
        return
    try:
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ConfigError(f"--run-dir: {saved_path} is not valid JSON ({error}); "
                          "use --fresh to start over") from error
    for name in ARCHITECTURE_FIELDS:
        if name in saved and saved[name] != getattr(config, name):
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"{flag}: got {getattr(config, name)!r} but the "
                f"run in {run_dir} was started with {saved[name]!r}; pass the same "
                "value to resume, or --fresh to start over"
            )

    # The cache must match what the networks were built for.
    if "resolution" in saved and saved["resolution"] != cache.resolution:
        raise ConfigError(
            f"--data: cache is {cache.resolution} px but the run in {run_dir} was "
            f"trained at {saved['resolution']} px; use the same cache or --fresh"
        )
    saved_names = saved.get("label_names")
    if config.conditional and saved_names not in (None, cache.label_names):
        raise ConfigError(
            f"--data: cache has labels {cache.label_names} but the conditional run in "
            f"{run_dir} was trained on {saved_names}; use the same cache or --fresh"
        )


def prepare_run_dir(config: TrainConfig, cache: CacheInfo) -> Path:
    """Create the run folder, or move it aside with --fresh; refuse clashing resumes."""
    run_dir = check_run_dir_location(config)
    if config.fresh and run_dir.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = run_dir.with_name(f"{run_dir.name}.old-{stamp}")
        run_dir.rename(aside)
        LOG.info("--fresh: moved the previous run to %s", aside)
    check_saved_config(run_dir, config, cache)
    (run_dir / "samples").mkdir(parents=True, exist_ok=True)
    return run_dir


def write_config(run_dir: Path, config: TrainConfig, cache: CacheInfo,
                 replicas: int) -> None:
    """config.json: every resolved option plus what was read from the cache."""
    record: dict[str, Any] = dataclasses.asdict(config)
    record.update(resolution=cache.resolution, label_names=cache.label_names,
                  training_images=int(len(cache.rows)), replicas=replicas,
                  latent_dim=LATENT_DIM)
    atomic_write_json(run_dir / "config.json", record)


def fixed_latents(config: TrainConfig, num_labels: int) -> tuple[tf.Tensor, tf.Tensor]:
    """The latent batch (and labels, cycling) drawn the same way at every snapshot."""
    seed = tf.constant([config.seed, SAMPLE_SEED_OFFSET], tf.int64)
    latents = tf.random.stateless_normal((SAMPLE_COUNT, LATENT_DIM), seed)
    labels = tf.range(SAMPLE_COUNT, dtype=tf.int32) % max(num_labels, 1)
    return latents, labels


def to_uint8(images: tf.Tensor | np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] to uint8 RGB."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def truncate_log(path: Path, step: int) -> None:
    """Drop log records past the step a run resumes from, so curves don't repeat."""
    if not path.is_file():
        return
    kept = [record for record in read_jsonl(path) if record.get("step", 0) <= step]
    text = "".join(json.dumps(record) + "\n" for record in kept)
    atomic_write_bytes(path, text.encode("utf-8"))


class StopRequest:
    """Turns SIGINT into a flag the loop checks, so Ctrl-C ends with a checkpoint."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        LOG.warning("interrupt received; stopping after this step with a checkpoint")
        self.requested = True

    def restore(self) -> None:
        signal.signal(signal.SIGINT, self._previous)


class IntervalStats:
    """Running sums of the step metrics between two status lines."""

    NAMES = ("d_loss", "g_loss", "r1", "d_real", "d_fake", "augment_p")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sums = dict.fromkeys(self.NAMES, 0.0)
        self.count = 0
        self.untimed = 0
        self.started = time.monotonic()

    def restart_clock(self) -> None:
        """Time from now on, leaving the steps so far (tf.function tracing) out."""
        self.untimed = self.count
        self.started = time.monotonic()

    def timed(self) -> tuple[int, float, bool]:
        """Steps and seconds for speed figures, and whether tracing is included."""
        elapsed = time.monotonic() - self.started
        if self.count > self.untimed:
            return self.count - self.untimed, elapsed, False
        return self.count, elapsed, self.untimed > 0

    def add(self, metrics: dict[str, float]) -> None:
        for name in self.NAMES:
            self.sums[name] += metrics[name]
        self.count += 1

    def means(self) -> dict[str, float]:
        return {name: value / max(self.count, 1) for name, value in self.sums.items()}


class Trainer:
    """One training run: state, data, logs, and the loop that ties them together."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.cache = open_cache(config.data, config.label)
        check_run_dir_location(config)
        setup_tensorflow(config)
        self.strategy = choose_strategy()
        replicas = self.strategy.num_replicas_in_sync
        if config.batch_size % replicas:
            raise ConfigError(f"--batch-size: got {config.batch_size}, expected a "
                              f"multiple of the {replicas} devices in use")
        if config.batch_size > len(self.cache.rows):
            LOG.warning("--batch-size %d is larger than the %d training images; each "
                        "batch repeats images", config.batch_size,
                        len(self.cache.rows))
        self.run_dir = prepare_run_dir(config, self.cache)
        num_labels = len(self.cache.label_names)
        self.gan = Gan(config, self.cache.resolution, num_labels, self.strategy)
        self.checkpoints = AtomicCheckpoints(self.run_dir / "checkpoints",
                                             self.gan.checkpoint())
        self.step_functions = {False: self.gan.make_train_step(with_r1=False)}
        if config.d_reg == "r1":
            self.step_functions[True] = self.gan.make_train_step(with_r1=True)
        self.sample_inputs = fixed_latents(config, num_labels)
        self.summary = tf.summary.create_file_writer(str(self.run_dir / "tensorboard"))
        self.failed_since_checkpoint = False
        self.d_winning_intervals = 0
        self.deadline = math.inf
        self.replicas = replicas
        LOG.info("training on %d images (%s) at %dx%d on %d device(s); run folder %s",
                 len(self.cache.rows), config.label or "all labels",
                 self.cache.resolution, self.cache.resolution, replicas, self.run_dir)

    def resume(self) -> int:
        """Load the newest checkpoint, or write step 0 so one always exists."""
        latest = self.checkpoints.latest()
        if latest is None:
            self.save_checkpoint(0)
            return 0
        self.checkpoints.restore(latest)
        step = int(self.gan.step.numpy())
        truncate_log(self.run_dir / "log.jsonl", step)
        LOG.info("resumed from %s (step %d)", latest, step)
        return step

    def start(self) -> int:
        """Resume (or start at step 0), then record the options in config.json."""
        step = self.resume()
        write_config(self.run_dir, self.config, self.cache, self.replicas)
        return step

    def iterator(self, step: int) -> Any:
        """Batches from the given step on, split over the devices when several."""
        dataset = make_dataset(self.cache, self.config.batch_size, self.config.seed,
                               step, self.config.flip)
        if self.strategy.num_replicas_in_sync > 1:
            dataset = self.strategy.experimental_distribute_dataset(dataset)
        return iter(dataset)

    def save_checkpoint(self, step: int) -> None:
        if not self.config.ema:
            self.gan.copy_to_ema()
        self.checkpoints.save(step)
        self.failed_since_checkpoint = False

    def recover(self, step: int) -> int:
        """Handle a step with non-finite values: restore the last good checkpoint."""
        latest = self.checkpoints.latest()
        if self.failed_since_checkpoint:
            raise TrainingDiverged(
                f"non-finite losses or gradients again at step {step} before a new "
                f"checkpoint; stopping. The last good checkpoint is {latest}; try "
                "lower --g-lr/--d-lr or another --d-reg"
            )
        LOG.warning("non-finite losses or gradients at step %d; step skipped, "
                    "restoring %s", step, latest)
        self.checkpoints.restore(latest)
        self.gan.rng.skip(1)
        self.failed_since_checkpoint = True
        return int(self.gan.step.numpy())

    def snapshot(self, step: int) -> None:
        """Checkpoint, sample grid from the fixed latents, TensorBoard images."""
        self.save_checkpoint(step)
        latents, labels = self.sample_inputs
        inputs = [latents, labels] if self.config.conditional else latents
        images = to_uint8(self.gan.generator_ema(inputs, training=False))
        path = self.run_dir / "samples" / f"step-{step:07d}.png"
        save_image_grid(images, path, columns=8, title=f"step {step}")
        with self.summary.as_default():
            summary_images("samples", images[:16], step)
        LOG.info("snapshot: %s", path)

    def log_status(self, step: int, stats: IntervalStats, log: JsonlWriter) -> None:
        """One status line and the same numbers to log.jsonl and TensorBoard."""
        means = stats.means()
        timed_steps, elapsed, with_tracing = stats.timed()
        images = timed_steps * self.config.batch_size
        sec_per_kimg = elapsed / max(images, 1) * 1000
        eta_seconds = (self.config.steps - step) * elapsed / max(timed_steps, 1)
        eta_seconds = min(eta_seconds, max(self.deadline - time.monotonic(), 0.0))
        low_fake = means["d_fake"] < D_WINNING_PROBABILITY
        self.d_winning_intervals = self.d_winning_intervals + 1 if low_fake else 0
        d_winning = self.d_winning_intervals >= D_WINNING_INTERVALS
        record = {"step": step, "images_seen": step * self.config.batch_size,
                  "sec_per_kimg": sec_per_kimg, **means,
                  "eta_seconds": eta_seconds, "d_winning": d_winning,
                  "sec_per_kimg_includes_tracing": with_tracing}
        log.write(record)
        with self.summary.as_default():
            for name, value in {**means, "sec_per_kimg": sec_per_kimg}.items():
                summary_scalar(name, value, step)
        LOG.info(
            "step %7d  kimg %8.2f  sec/kimg %7.1f%s  loss D %.3f G %.3f  D(real) %.2f "
            "D(fake) %.2f  p %.2f  eta %s%s",
            step, record["images_seen"] / 1000, sec_per_kimg,
            " (incl. tracing)" if with_tracing else "", means["d_loss"],
            means["g_loss"], means["d_real"], means["d_fake"], means["augment_p"],
            _duration(eta_seconds),
            "  D winning" if d_winning else "",
        )
        stats.reset()

    def write_loss_curves(self) -> None:
        records = read_jsonl(self.run_dir / "log.jsonl")
        if not records:
            return
        steps = [record["step"] for record in records]
        series = {name: [record[name] for record in records]
                  for name in ("d_loss", "g_loss")}
        save_loss_curves(steps, series, self.run_dir / "losses.png")

    def run(self) -> Path:
        """Train to --steps, or until --max-minutes or Ctrl-C; end with a snapshot."""
        config = self.config
        step = self.start()
        if step >= config.steps:
            LOG.info("already at step %d >= --steps %d; nothing to do", step,
                     config.steps)
        budget_seconds = config.max_minutes * 60 if config.max_minutes else math.inf
        self.deadline = time.monotonic() + budget_seconds
        stop = StopRequest()
        try:
            with JsonlWriter(self.run_dir / "log.jsonl") as log:
                step = self.loop(step, stop, log)
        finally:
            stop.restore()

        # Final snapshot and loss curves.
        if step not in self.checkpoints.steps():
            self.snapshot(step)
        self.write_loss_curves()
        self.summary.flush()
        return self.run_dir

    def loop(self, step: int, stop: StopRequest, log: JsonlWriter) -> int:
        """The steps themselves; the last step is always logged. Returns the step."""
        config = self.config
        batches = self.iterator(step)
        stats = IntervalStats()
        traced = False
        while step < config.steps:

            # One step; a non-finite one rolls back to the last checkpoint.
            with_r1 = config.d_reg == "r1" and step % config.r1_every == 0
            outputs = self.step_functions[with_r1](*next(batches))
            metrics = {name: float(value) for name, value in outputs.items()}
            if metrics["finite"] < 0.5:
                step = self.recover(step)
                batches, stats = self.iterator(step), IntervalStats()
                continue
            step += 1
            stats.add(metrics)

            # Leave the first step's tf.function tracing out of sec/kimg.
            if not traced:
                stats.restart_clock()
                traced = True

            # Status line, snapshot, and the two ways to stop early.
            if step % config.log_every == 0:
                self.log_status(step, stats, log)
            if step % config.snapshot_every == 0:
                self.snapshot(step)
            if stop.requested or time.monotonic() > self.deadline:
                LOG.info("stopping at step %d (%s)", step,
                         "interrupt" if stop.requested else "--max-minutes")
                break

        # Record the final step when it fell between two status lines.
        if stats.count:
            self.log_status(step, stats, log)
        return step


def train(config: TrainConfig) -> Path:
    """Run (or continue) training with the given options; returns the run folder."""
    return Trainer(config).run()
