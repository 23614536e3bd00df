"""generate_images.py: the files it writes, determinism by seed, label handling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crackgan.config import GenerateConfig, TrainConfig
from crackgan.sampling import generate
from crackgan.training import train
from tiny_cache import make_cache


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conditional run trained for a few steps (a high learning rate and no EMA, so
    a few steps move the outputs away from flat grey)."""
    folder = tmp_path_factory.mktemp("generate")
    config = TrainConfig(data=str(make_cache(folder / "cache", count=8, seed=1)),
                         run_dir=str(folder / "run"),
                         steps=3, snapshot_every=3, log_every=1, batch_size=4,
                         g_width=4, d_width=4, conditional=True, g_lr=0.02,
                         ema=False)
    return train(config)


def _pixels(folder: Path, count: int) -> np.ndarray:
    paths = [folder / f"{i:05d}.png" for i in range(count)]
    return np.stack([np.asarray(Image.open(path)) for path in paths])


def test_same_seed_same_images_any_batch_size(conditional_run: Path,
                                              tmp_path: Path) -> None:
    def run(name: str, seed: int, batch_size: int, label: str = "cracked") -> Path:
        return generate(GenerateConfig(run_dir=str(conditional_run),
                                       out=str(tmp_path / name),
                                       num=10, seed=seed, batch_size=batch_size,
                                       label=label))

    first = _pixels(run("a", 5, 4), 10)
    np.testing.assert_array_equal(first, _pixels(run("b", 5, 10), 10))
    assert not np.array_equal(first, _pixels(run("c", 6, 4), 10))
    assert not np.array_equal(first, _pixels(run("d", 5, 4, "intact"), 10))


def test_script_writes_contract_files_and_rejects_unknown_label(
        conditional_run: Path, tmp_path: Path, repo_root: Path) -> None:
    out = tmp_path / "generated"
    command = [sys.executable, str(repo_root / "generate_images.py"), "--run-dir",
               str(conditional_run), "--out", str(out), "--num", "70",
               "--label", "intact"]
    result = subprocess.run(command, cwd=repo_root, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]

    # 70 RGB PNGs at the training resolution, a grid and the record.
    names = sorted(path.name for path in out.glob("0*.png"))
    assert names == [f"{i:05d}.png" for i in range(70)]
    image = Image.open(out / "00069.png")
    assert image.mode == "RGB" and image.size == (32, 32)
    assert (out / "grid.png").is_file()
    record = json.loads((out / "generation.json").read_text())
    assert record["checkpoint_step"] == 3 and record["count"] == 70
    assert record["label"] == "intact" and record["resolution"] == 32
    assert {"seed", "run_dir", "created"} <= record.keys()

    # An unknown label is a one-line error listing the valid ones.
    bad = subprocess.run([*command[:-1], "screen"], cwd=repo_root, capture_output=True,
                         text=True, timeout=240)
    assert bad.returncode == 2
    assert "--label" in bad.stderr and "'cracked', 'intact'" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize("where", ["run", "checkpoint", "parent"])
def test_out_overlapping_the_run_is_refused_before_generating(tmp_path: Path,
                                                              where: str) -> None:
    run_dir = tmp_path / "run"
    step = run_dir / "checkpoints" / "step-3"
    step.mkdir(parents=True)
    (step / "ckpt.index").write_bytes(b"weights")
    out = {"run": run_dir, "checkpoint": step, "parent": tmp_path}[where]
    with pytest.raises(ValueError, match="--out: .* overlaps --run-dir"):
        generate(GenerateConfig(run_dir=str(run_dir), out=str(out), num=1))
    assert (step / "ckpt.index").read_bytes() == b"weights"


def test_out_that_is_a_file_or_foreign_folder_is_refused(tmp_path: Path) -> None:
    import generate_images

    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    code = generate_images.main(["--run-dir", str(tmp_path / "run"), "--out",
                                 str(notes), "--num", "1"])
    assert code == 2 and notes.read_text() == "mine"
    assert not list(tmp_path.glob(".*"))
    with pytest.raises(ValueError, match=f"--out: {notes} is a file, expected a "
                       "folder"):
        generate(GenerateConfig(run_dir=str(tmp_path / "run"), out=str(notes)))
    (tmp_path / "docs" / "keep.txt").parent.mkdir()
    (tmp_path / "docs" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="--out: .*docs exists and is not a crackgan "
                       "generated folder \\(no generation.json\\)"):
        generate(GenerateConfig(run_dir=str(tmp_path / "run"),
                                out=str(tmp_path / "docs")))
