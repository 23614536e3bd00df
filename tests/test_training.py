"""Training: EMA math, checkpoints, exact resume, SIGKILL resume, non-finite steps,
several devices. Networks are tiny (32x32, width 4-8) so each run takes seconds."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from crackgan.checkpoints import PREFIX, AtomicCheckpoints, resolve_checkpoint
from crackgan.config import ConfigError, TrainConfig
from crackgan.data import batch_indices, open_cache
from crackgan.gan import Gan
from crackgan.logs import read_jsonl
from crackgan.training import Trainer, TrainingDiverged
from tiny_cache import make_cache

TINY_FLAGS = ["--g-width", "8", "--d-width", "8", "--batch-size", "8", "--threads", "1"]


def run_script(repo_root: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(repo_root / "train_gan.py"), *args],
                          cwd=repo_root, capture_output=True, text=True, timeout=240)


def read_variables(checkpoint_folder: Path) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(str(checkpoint_folder / PREFIX))
    return {name: reader.get_tensor(name)
            for name in reader.get_variable_to_shape_map()
            if "OBJECT_GRAPH" not in name}


def tiny_config(tmp_path: Path, **changes: object) -> TrainConfig:
    values = dict(data=str(make_cache(tmp_path / "cache")),
                  run_dir=str(tmp_path / "run"),
                  g_width=4, d_width=4, batch_size=4, steps=4, snapshot_every=2,
                  log_every=1)
    values.update(changes)
    return TrainConfig(**values)


def test_ema_update_math(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, ema_decay=0.5)
    gan = Gan(config, 32, 2, tf.distribute.get_strategy())
    average = [v.numpy() for v in gan.generator_ema.trainable_variables]
    for variable in gan.generator.trainable_variables:
        variable.assign_add(tf.ones_like(variable))
    gan.step.assign(1000)
    gan.update_ema()

    # decay = min(0.5, ramp) = 0.5: the average moves half way to the weights.
    for old, new, current in zip(average, gan.generator_ema.trainable_variables,
                                 gan.generator.trainable_variables):
        np.testing.assert_allclose(new.numpy(), 0.5 * old + 0.5 * current.numpy(),
                                   rtol=1e-6, atol=1e-6)


def test_batches_are_a_function_of_seed_and_step() -> None:
    first = batch_indices(tf.constant(3, tf.int64), 7, 5, 12).numpy()
    again = batch_indices(tf.constant(3, tf.int64), 7, 5, 12).numpy()
    other = batch_indices(tf.constant(3, tf.int64), 8, 5, 12).numpy()
    epoch = np.concatenate([batch_indices(tf.constant(s, tf.int64), 7, 4, 12).numpy()
                            for s in range(3)])
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert sorted(epoch) == list(range(12))


def test_unknown_label_lists_valid_ones(tmp_path: Path) -> None:
    cache = make_cache(tmp_path / "cache")
    with pytest.raises(ValueError, match=r"--label.*\['cracked', 'intact'\]"):
        open_cache(cache, "broken")


def test_checkpoint_round_trip_keeps_every_piece_of_state(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, ada_target=0.6)
    saved = Gan(config, 32, 2, tf.distribute.get_strategy())
    step = saved.make_train_step(with_r1=False)
    images = tf.zeros((4, 32, 32, 3))
    step(images, tf.zeros((4,), tf.int32))
    saved.augment_p.assign(0.25)
    manager = AtomicCheckpoints(tmp_path / "ckpt", saved.checkpoint())
    for number in (1, 2, 3, 4):
        manager.save(number)

    # Only the newest three remain, and a fresh state reads back identical values.
    assert manager.steps() == [2, 3, 4]
    loaded = Gan(config, 32, 2, tf.distribute.get_strategy())
    AtomicCheckpoints(tmp_path / "ckpt", loaded.checkpoint()).restore(manager.latest())
    assert float(loaded.augment_p.numpy()) == 0.25
    assert int(loaded.step.numpy()) == 1
    assert int(loaded.d_optimizer.iterations.numpy()) == 1
    np.testing.assert_array_equal(loaded.rng.state.numpy(), saved.rng.state.numpy())
    for a, b in zip(saved.discriminator.variables + saved.d_optimizer.variables,
                    loaded.discriminator.variables + loaded.d_optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="--checkpoint"):
        resolve_checkpoint(tmp_path / "ckpt", "1")


def test_non_finite_step_is_skipped_then_rolled_back_then_fatal(tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(tmp_path))
    assert trainer.resume() == 0
    images, labels = next(trainer.iterator(0))
    generator_before = [v.numpy() for v in trainer.gan.generator.trainable_variables]
    kernel = trainer.gan.discriminator.trainable_variables[0]
    good_kernel = kernel.numpy()

    # A NaN weight makes the step non-finite: nothing is applied.
    kernel.assign(tf.fill(kernel.shape, np.nan))
    metrics = trainer.step_functions[False](images, labels)
    assert float(metrics["finite"]) == 0.0
    assert int(trainer.gan.step.numpy()) == 0
    generator = trainer.gan.generator.trainable_variables
    for before, after in zip(generator_before, generator):
        np.testing.assert_array_equal(before, after.numpy())

    # The first failure restores the last good checkpoint.
    assert trainer.recover(0) == 0
    np.testing.assert_array_equal(kernel.numpy(), good_kernel)

    # A second failure before a new checkpoint stops the run.
    with pytest.raises(TrainingDiverged, match="non-finite"):
        trainer.recover(0)


def test_resuming_with_other_widths_names_the_flag(tmp_path: Path) -> None:
    Trainer(tiny_config(tmp_path)).start()
    with pytest.raises(ConfigError, match="--g-width"):
        Trainer(tiny_config(tmp_path, g_width=8))


@pytest.mark.slow
def test_resume_is_exact(tmp_path: Path, repo_root: Path) -> None:
    cache = make_cache(tmp_path / "cache")
    common = ["--data", str(cache), "--steps", "6", "--snapshot-every", "3",
              "--log-every", "3", "--deterministic", "--d-reg", "r1", "--r1-every", "2",
              "--ada-target", "0.6", *TINY_FLAGS]

    # One run of 6 steps; another of 3 steps, then the same command to 6.
    whole = run_script(repo_root, [*common, "--run-dir", str(tmp_path / "whole")])
    assert whole.returncode == 0, whole.stderr[-2000:]
    half = [*common, "--run-dir", str(tmp_path / "halves")]
    first = run_script(repo_root, [*half[:3], "3", *half[4:]])
    assert first.returncode == 0, first.stderr[-2000:]
    second = run_script(repo_root, half)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resumed from" in second.stderr

    # Every variable of the final checkpoints matches.
    expected = read_variables(tmp_path / "whole" / "checkpoints" / "step-0000006")
    actual = read_variables(tmp_path / "halves" / "checkpoints" / "step-0000006")
    assert expected.keys() == actual.keys()
    assert any("generator_ema" in name for name in expected)
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=1e-6, atol=1e-7,
                                   err_msg=name)
    records = [json.loads(line) for line in
               (tmp_path / "halves" / "log.jsonl").read_text().splitlines()]
    assert [record["step"] for record in records] == [3, 6]


@pytest.mark.slow
def test_sigkill_then_rerun_continues_from_the_checkpoint(tmp_path: Path,
                                                         repo_root: Path) -> None:
    cache = make_cache(tmp_path / "cache")
    run_dir = tmp_path / "run"
    command = [sys.executable, str(repo_root / "train_gan.py"), "--data", str(cache),
               "--run-dir", str(run_dir), "--steps", "150", "--snapshot-every", "5",
               "--log-every", "5", *TINY_FLAGS]

    # Kill -9 once a checkpoint past step 0 exists.
    process = subprocess.Popen(command, cwd=repo_root, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    manager = AtomicCheckpoints(run_dir / "checkpoints", tf.train.Checkpoint())
    while max(manager.steps(), default=0) == 0 and time.monotonic() < deadline:
        assert process.poll() is None, "training ended before it could be killed"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    saved_step = max(manager.steps())
    assert 0 < saved_step < 150

    # The same command resumes from that step and finishes.
    result = subprocess.run(command, cwd=repo_root, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    resumed = [int(line.rsplit("step ", 1)[1].rstrip(")"))
               for line in result.stderr.splitlines() if "resumed from" in line]
    assert resumed and resumed[0] >= saved_step
    assert max(manager.steps()) == 150
    assert (run_dir / "samples" / "step-0000150.png").is_file()
    assert (run_dir / "losses.png").is_file()


@pytest.mark.slow
def test_two_logical_cpus_use_mirrored_strategy(tmp_path: Path,
                                                repo_root: Path) -> None:
    cache = make_cache(tmp_path / "cache")
    run_dir = tmp_path / "run"
    script = f"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from crackgan.config import TrainConfig
from crackgan.training import train
train(TrainConfig(data={str(cache)!r}, run_dir={str(run_dir)!r}, steps=3,
                  snapshot_every=3, log_every=1, batch_size=8, g_width=4, d_width=4,
                  conditional=True))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=repo_root,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((run_dir / "config.json").read_text())["replicas"] == 2
    lines = (run_dir / "log.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [record["step"] for record in records] == [1, 2, 3]
    assert all(np.isfinite(record["d_loss"]) for record in records)


def test_resume_on_another_resolution_fails_before_touching_config(
        tmp_path: Path) -> None:
    Trainer(tiny_config(tmp_path)).start()
    saved = (tmp_path / "run" / "config.json").read_text()
    other = make_cache(tmp_path / "cache16", resolution=16)
    with pytest.raises(ConfigError, match="--data: cache is 16 px but the run in .* "
                                          "was trained at 32 px"):
        Trainer(tiny_config(tmp_path, data=str(other)))
    assert (tmp_path / "run" / "config.json").read_text() == saved


@pytest.mark.parametrize("inside", ["", "run"])
def test_run_dir_overlapping_data_is_refused(tmp_path: Path, inside: str) -> None:
    cache = make_cache(tmp_path / "cache")
    run_dir = cache / inside if inside else cache
    with pytest.raises(ConfigError, match="--run-dir: .* overlaps --data"):
        Trainer(tiny_config(tmp_path, run_dir=str(run_dir)))
    assert sorted(p.name for p in cache.iterdir()) == ["images.npy", "labels.npy",
                                                       "manifest.json"]


@pytest.mark.parametrize("missing", ["images.npy", "labels.npy"])
def test_incomplete_cache_is_refused_before_creating_the_run_dir(
        tmp_path: Path, missing: str) -> None:
    config = tiny_config(tmp_path)
    (tmp_path / "cache" / missing).unlink()
    with pytest.raises(ValueError, match=f"--data: .*{missing} is missing"):
        Trainer(config)
    assert not (tmp_path / "run").exists()


def test_cache_with_wrong_shapes_is_refused(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    np.save(tmp_path / "cache" / "images.npy", np.zeros((12, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="--data: .*images.npy is uint8 "
                                         r"\(12, 16, 16, 3\); expected"):
        open_cache(config.data)


def test_script_refuses_a_file_as_run_dir_and_help_shows_defaults(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture) -> None:
    import train_gan

    make_cache(tmp_path / "cache")
    (tmp_path / "run").write_text("not a folder")
    code = train_gan.main(["--data", str(tmp_path / "cache"), "--run-dir",
                           str(tmp_path / "run"), "--steps", "1"])
    assert code == 2
    assert f"--run-dir: {tmp_path / 'run'} is a file, expected a folder" in caplog.text
    with pytest.raises(SystemExit):
        train_gan.main(["--help"])
    assert "(default: 2000)" in capsys.readouterr().out


def test_final_step_is_logged_and_nothing_to_do_is_said(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    config = tiny_config(tmp_path, steps=2, log_every=50, snapshot_every=50,
                         batch_size=16)
    Trainer(config).run()
    records = read_jsonl(tmp_path / "run" / "log.jsonl")
    assert [record["step"] for record in records] == [2]
    assert records[0]["sec_per_kimg_includes_tracing"] is False
    assert (tmp_path / "run" / "losses.png").is_file()
    assert "--batch-size 16 is larger than the 12 training images" in caplog.text
    Trainer(tiny_config(tmp_path, steps=1, batch_size=16)).run()
    assert "already at step 2 >= --steps 1; nothing to do" in caplog.text
    assert len(read_jsonl(tmp_path / "run" / "log.jsonl")) == 1


def test_conditional_resume_on_other_labels_is_refused(tmp_path: Path) -> None:
    Trainer(tiny_config(tmp_path, conditional=True)).start()
    other = make_cache(tmp_path / "other")
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["label_names"] = ["broken", "whole"]
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match=r"--data: cache has labels \['broken', "
                                          "'whole'\\] but the conditional run"):
        Trainer(tiny_config(tmp_path, conditional=True, data=str(other)))
