"""The four scripts run in order on the real photos, checked through the files written.

One small pass (32x32, a few training steps, narrow networks) shared by the tests
below: preprocessing, training, a resumed training run, generation and evaluation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from crackgan.logs import read_jsonl
from crackgan.plots import tile_images

pytestmark = pytest.mark.slow

RESOLUTION = 32
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
# Narrow networks and few steps: this checks the plumbing, not the images.
TRAIN_FLAGS = [
    "--label",
    "cracked",
    "--batch-size",
    "16",
    "--snapshot-every",
    "3",
    "--log-every",
    "1",
    "--g-width",
    "16",
    "--d-width",
    "16",
    "--seed",
    "3",
]
FIRST_STEPS, RESUMED_STEPS = 6, 9
GENERATED_COUNT = 12
# A script run here gets at most this many seconds.
SCRIPT_TIMEOUT_SECONDS = 600


def run_script(repo_root: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    """Run one of the four scripts with this interpreter; fail with its stderr tail."""
    assert (repo_root / script).is_file(), f"{script} is missing from {repo_root}"
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [sys.executable, script, *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        env=environment,
    )
    command = " ".join([script, *args])
    assert result.returncode == 0, (
        f"{command} exited {result.returncode}:\n{result.stderr[-4000:]}"
    )
    return result


def image_files(root: Path) -> list[str]:
    """Relative paths of the image files under root, as preprocessing lists them."""
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file()
        and path.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG", f"{path} is {image.format}, expected PNG"
        return image.size


def assert_grid_of(
    path: Path, count: int, resolution: int, columns: int | None
) -> None:
    """A grid PNG is as wide as the mosaic of count images; a title may add height."""
    blank = np.zeros((count, resolution, resolution, 3), np.uint8)
    mosaic = tile_images(blank, columns)
    width, height = png_size(path)
    assert width == mosaic.shape[1], (
        f"{path}: width {width}, expected {mosaic.shape[1]}"
    )
    assert mosaic.shape[0] <= height <= mosaic.shape[0] + 60, (
        f"{path}: height {height}, expected {mosaic.shape[0]} plus a title"
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """One folder for the whole pass; each step writes its own subfolder."""
    return tmp_path_factory.mktemp("pipeline")


@pytest.fixture(scope="module")
def cache(workspace: Path, repo_root: Path, real_photos: Path) -> Path:
    """The cache data_preprocessing.py writes from the real photos."""
    run_script(
        repo_root,
        "data_preprocessing.py",
        "--input",
        str(real_photos),
        "--output",
        str(workspace / "cache"),
        "--resolution",
        str(RESOLUTION),
    )
    return workspace / "cache"


@pytest.fixture(scope="module")
def training(workspace: Path, repo_root: Path, cache: Path) -> dict:
    """A short training run, then the same command with more steps, which resumes it."""
    run = workspace / "run"
    run_script(
        repo_root,
        "train_gan.py",
        "--data",
        str(cache),
        "--run-dir",
        str(run),
        "--steps",
        str(FIRST_STEPS),
        *TRAIN_FLAGS,
    )

    # Keep what the first run wrote before the resumed run extends it.
    first_log = read_jsonl(run / "log.jsonl")
    first_checkpoints = sorted(path.name for path in (run / "checkpoints").iterdir())
    resumed = run_script(
        repo_root,
        "train_gan.py",
        "--data",
        str(cache),
        "--run-dir",
        str(run),
        "--steps",
        str(RESUMED_STEPS),
        *TRAIN_FLAGS,
    )
    return {
        "run": run,
        "first_log": first_log,
        "first_checkpoints": first_checkpoints,
        "resume_stderr": resumed.stderr,
    }


@pytest.fixture(scope="module")
def generated(workspace: Path, repo_root: Path, training: dict) -> Path:
    """Images generate_images.py writes from the resumed run."""
    out = workspace / "generated"
    run_script(
        repo_root,
        "generate_images.py",
        "--run-dir",
        str(training["run"]),
        "--out",
        str(out),
        "--num",
        str(GENERATED_COUNT),
        "--seed",
        "5",
    )
    return out


def test_manifest_accounts_for_every_photo(cache: Path, real_photos: Path) -> None:
    manifest = json.loads((cache / "manifest.json").read_text())
    found = image_files(real_photos)
    dropped = {item["path"] for item in manifest["skipped"]} | set(
        manifest["duplicate_paths"]
    )
    dropped |= {
        item["path"] if isinstance(item, dict) else item
        for item in manifest.get("near_duplicates", [])
    }

    assert manifest["inputs_seen"] == len(found)
    assert manifest["resolution"] == RESOLUTION
    assert manifest["count"] == len(found) - len(dropped)
    assert manifest["duplicates"] == len(manifest["duplicate_paths"])
    expected_labels = Counter(
        Path(path).parent.name for path in found if path not in dropped
    )
    assert manifest["labels"] == dict(expected_labels)
    assert manifest["label_names"] == sorted(expected_labels)
    assert set(manifest) >= {"fingerprint", "created", "options", "skipped"}


def test_cache_arrays_and_parquet(cache: Path, real_photos: Path) -> None:
    manifest = json.loads((cache / "manifest.json").read_text())
    images = np.load(cache / "images.npy")
    labels = np.load(cache / "labels.npy")
    table = pd.read_parquet(cache / "images.parquet").sort_values("row")

    assert images.dtype == np.uint8
    assert images.shape == (manifest["count"], RESOLUTION, RESOLUTION, 3)
    assert labels.dtype == np.int64 and labels.shape == (manifest["count"],)
    counts = np.bincount(labels, minlength=len(manifest["label_names"]))
    assert dict(zip(manifest["label_names"], counts.tolist())) == manifest["labels"]
    assert table["row"].tolist() == list(range(manifest["count"]))
    assert table["path"].tolist() == sorted(table["path"])
    assert set(table["path"]) <= set(image_files(real_photos))
    label_index = {name: index for index, name in enumerate(manifest["label_names"])}
    assert [label_index[name] for name in table["label"]] == labels.tolist()
    first = np.frombuffer(table["pixels"].iloc[-1], np.uint8)
    assert np.array_equal(first.reshape(RESOLUTION, RESOLUTION, 3), images[-1])
    assert (table["width"] > 0).all() and (table["height"] > 0).all()
    png_size(cache / "reals.png")


def test_training_run_folder(training: dict) -> None:
    run = training["run"]
    config = json.loads((run / "config.json").read_text())
    samples = sorted(path.name for path in (run / "samples").glob("step-*.png"))

    assert config["label"] == "cracked" and config["batch_size"] == 16
    assert config["g_width"] == 16 and config["resolution"] == RESOLUTION
    first_steps = [record["step"] for record in training["first_log"]]
    assert first_steps == list(range(1, FIRST_STEPS + 1))
    assert all(
        np.isfinite(record["d_loss"]) and np.isfinite(record["g_loss"])
        for record in training["first_log"]
    )
    assert "step-0000006" in training["first_checkpoints"]
    for step in range(3, RESUMED_STEPS + 1, 3):
        assert f"step-{step:07d}.png" in samples
    for name in samples:
        assert_grid_of(run / "samples" / name, 64, RESOLUTION, columns=8)
    png_size(run / "losses.png")


def test_resumed_run_continues_from_the_saved_step(training: dict) -> None:
    run = training["run"]
    records = read_jsonl(run / "log.jsonl")
    checkpoints = sorted(
        path.name
        for path in (run / "checkpoints").iterdir()
        if path.name.startswith("step-")
    )
    last = json.loads((run / "checkpoints" / checkpoints[-1] / "done.json").read_text())

    assert [record["step"] for record in records] == list(range(1, RESUMED_STEPS + 1))
    assert records[:FIRST_STEPS] == training["first_log"]
    assert last["step"] == RESUMED_STEPS
    assert json.loads((run / "config.json").read_text())["steps"] == RESUMED_STEPS
    assert f"step {FIRST_STEPS}" in training["resume_stderr"]


def test_generated_images(generated: Path) -> None:
    info = json.loads((generated / "generation.json").read_text())
    pngs = sorted(path.name for path in generated.glob("[0-9]*.png"))

    assert pngs == [f"{index:05d}.png" for index in range(GENERATED_COUNT)]
    for name in pngs:
        with Image.open(generated / name) as image:
            assert image.size == (RESOLUTION, RESOLUTION) and image.mode == "RGB"
    assert info["count"] == GENERATED_COUNT and info["seed"] == 5
    assert info["resolution"] == RESOLUTION
    assert info["checkpoint_step"] == RESUMED_STEPS
    assert set(info) >= {"label", "run_dir", "created"}
    width, _ = png_size(generated / "grid.png")
    assert width >= RESOLUTION


def test_generation_is_repeatable_with_the_seed(
    generated: Path, training: dict, repo_root: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    run_script(
        repo_root,
        "generate_images.py",
        "--run-dir",
        str(training["run"]),
        "--out",
        str(again),
        "--num",
        "3",
        "--seed",
        "5",
    )

    for name in ("00000.png", "00002.png"):
        first = np.asarray(Image.open(generated / name))
        second = np.asarray(Image.open(again / name))
        assert np.abs(first.astype(int) - second.astype(int)).max() <= 1, name


def test_evaluate_writes_a_report(
    cache: Path, generated: Path, workspace: Path, repo_root: Path
) -> None:
    report = workspace / "report"
    run_script(
        repo_root,
        "evaluate.py",
        "--data",
        str(cache),
        "--generated",
        str(generated),
        "--out",
        str(report),
        "--label",
        "cracked",
        "--metrics",
        "swd",
        "--seed",
        "0",
    )

    values = json.loads((report / "report.json").read_text())
    assert "swd" in values, f"report.json has {sorted(values)}"
    assert (report / "report.md").read_text().strip()


@pytest.mark.parametrize(
    "script, flag, value",
    [
        ("data_preprocessing.py", "--resolution", "33"),
        ("train_gan.py", "--steps", "0"),
        ("generate_images.py", "--num", "0"),
    ],
)
def test_bad_flag_is_one_clean_line(repo_root, tmp_path, script, flag, value) -> None:
    result = subprocess.run(
        [sys.executable, script, flag, value],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 2, result.stderr[-2000:]
    assert flag in result.stderr
    assert "Traceback" not in result.stderr
