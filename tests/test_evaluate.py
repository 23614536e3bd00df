"""Subprocess tests of evaluate.py on small code-built cache and generated folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

RESOLUTION = 32
SOURCES = ("alpha", "beta", "gamma", "delta")


def phone_image(rng: np.random.Generator, cracked: bool) -> np.ndarray:
    """A dark screen on a light background, with random white lines when cracked."""
    background = tuple(int(v) for v in rng.integers(150, 230, 3))
    image = Image.new("RGB", (RESOLUTION, RESOLUTION), background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 3, 23, 28), fill=tuple(int(v) for v in rng.integers(0, 40, 3)))
    if cracked:
        for _ in range(4):
            points = [tuple(int(v) for v in rng.integers(8, 24, 2)) for _ in range(3)]
            draw.line(points, fill=(235, 235, 235), width=1)
    noise = rng.normal(0, 6, (RESOLUTION, RESOLUTION, 3))
    return np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8)


def write_cache(folder: Path, count_per_label: int = 20) -> None:
    """A cache folder following the contract: arrays, manifest and images.parquet."""
    rng = np.random.default_rng(0)
    rows = []
    for label in ("cracked", "intact"):
        for index in range(count_per_label):
            source = SOURCES[index % len(SOURCES)]
            rows.append((f"{source}/{label}/{index:03d}.png", label))
    rows.sort()
    images = np.stack([phone_image(rng, label == "cracked") for _, label in rows])
    label_names = ["cracked", "intact"]
    labels = np.array([label_names.index(label) for _, label in rows], dtype=np.int64)
    folder.mkdir(parents=True)
    np.save(folder / "images.npy", images)
    np.save(folder / "labels.npy", labels)
    (folder / "images.parquet").mkdir()
    pd.DataFrame({"row": np.arange(len(rows)), "path": [p for p, _ in rows],
                  "label": [label for _, label in rows]}).to_parquet(
        folder / "images.parquet" / "part-00000.parquet")
    manifest = {"resolution": RESOLUTION, "count": len(rows),
                "labels": {"cracked": count_per_label, "intact": count_per_label},
                "label_names": label_names, "inputs_seen": len(rows), "skipped": [],
                "duplicates": 0, "duplicate_paths": [], "fingerprint": "test",
                "created": "2026-12-04T00:00:00+00:00", "options": {}}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def write_generated(folder: Path, count: int = 60) -> None:
    """Numbered PNGs of new cracked-looking images and generation.json."""
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True)
    for index in range(count):
        image = Image.fromarray(phone_image(rng, cracked=True))
        image.save(folder / f"{index:05d}.png")
    info = {"checkpoint_step": 10, "seed": 0, "count": count, "label": "cracked",
            "resolution": RESOLUTION, "run_dir": "outputs/run", "created": "now"}
    (folder / "generation.json").write_text(json.dumps(info))


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("evaluate")
    write_cache(root / "cache")
    write_generated(root / "generated")
    return root / "cache", root / "generated"


def run_evaluate(repo_root: Path, *flags: str, env: dict | None = None):
    return subprocess.run(
        [sys.executable, str(repo_root / "evaluate.py"), *flags], cwd=repo_root,
        capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_evaluate_writes_a_full_report(
        repo_root: Path, folders, tmp_path: Path) -> None:
    cache, generated = folders
    out = tmp_path / "report"
    result = run_evaluate(repo_root, "--data", str(cache), "--generated",
                          str(generated), "--out", str(out), "--classifier-steps",
                          "10", "--classifier-repeats", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    metrics = ["fid", "kid", "precision_recall", "swd", "two_sample", "memorisation",
               "downstream"]
    assert list(report) == metrics + ["evaluation"]
    torch_metrics = {"fid", "kid", "precision_recall"}
    for name in metrics:
        if report[name]["status"] == "skipped":
            assert name in torch_metrics, report[name]
            continue
        assert set(report[name]) >= {"value", "spread", "sample_sizes", "notes"}
    assert report["evaluation"]["label"] == "cracked"
    assert report["evaluation"]["real_count"] == 20
    assert report["swd"]["value"] > 0
    assert 0.0 <= report["two_sample"]["value"] <= 1.0
    assert report["downstream"]["details"]["split"] == ["grouped by source"]
    assert set(report["downstream"]["details"]["conditions"]) == {
        "real", "real+synthetic", "synthetic"}
    assert not report["memorisation"]["details"]["flagged"]
    markdown = (out / "report.md").read_text()
    assert "| question | metric |" in markdown and "nearest.png" in markdown
    for figure in ("real_grid.png", "generated_grid.png", "nearest.png",
                   "downstream.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", figure
    assert not list(cache.glob("*.png")), "nothing is written into an input folder"


def test_evaluate_flags_a_generator_that_copies_training_images(
        repo_root: Path, folders, tmp_path: Path) -> None:
    cache, _ = folders
    copies = tmp_path / "copies"
    copies.mkdir()
    images = np.load(cache / "images.npy")[np.load(cache / "labels.npy") == 0]
    for index in range(40):
        Image.fromarray(images[index % len(images)]).save(copies / f"{index:05d}.png")
    (copies / "generation.json").write_text(json.dumps({"label": "cracked"}))
    out = tmp_path / "report"
    result = run_evaluate(repo_root, "--data", str(cache), "--generated", str(copies),
                          "--out", str(out), "--metrics", "memorisation,swd",
                          env={"CRACKGAN_FID_WEIGHTS": str(tmp_path / "absent.pt")})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert list(report) == ["swd", "memorisation", "evaluation"]
    assert list(report["memorisation"]["details"]["spaces"]) == ["pixels"]
    assert report["memorisation"]["details"]["flagged"]
    assert report["memorisation"]["details"]["pixel_copies"] == 40
    assert "FLAGGED" in (out / "report.md").read_text()


def test_evaluate_skips_inception_metrics_with_a_reason_without_weights(
        repo_root: Path, folders, tmp_path: Path) -> None:
    cache, generated = folders
    out = tmp_path / "report"
    result = run_evaluate(repo_root, "--data", str(cache), "--generated",
                          str(generated), "--out", str(out), "--metrics", "kid",
                          env={"CRACKGAN_FID_WEIGHTS": str(tmp_path / "absent.pt")})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["kid"]["status"] == "skipped"
    assert "Inception features unavailable" in report["kid"]["reason"]
    assert "Skipped kid" in result.stderr


def test_evaluate_rejects_unknown_metrics_listing_valid_ones(
        repo_root: Path, folders, tmp_path: Path) -> None:
    cache, generated = folders
    result = run_evaluate(repo_root, "--data", str(cache), "--generated",
                          str(generated), "--out", str(tmp_path / "r"), "--metrics",
                          "kid,sharpness")
    assert result.returncode == 2
    assert "--metrics" in result.stderr and "'sharpness'" in result.stderr
    assert "fid, kid, precision_recall, swd" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flag", ["--data", "--generated"])
def test_evaluate_names_the_flag_of_a_missing_folder(
        repo_root: Path, folders, tmp_path: Path, flag: str) -> None:
    cache, generated = folders
    paths = {"--data": str(cache), "--generated": str(generated)}
    paths[flag] = str(tmp_path / "nowhere")
    result = run_evaluate(repo_root, "--data", paths["--data"], "--generated",
                          paths["--generated"], "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert f"{flag}: {tmp_path / 'nowhere'}" in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_rejects_an_unknown_label(repo_root: Path, folders,
                                           tmp_path: Path) -> None:
    cache, generated = folders
    result = run_evaluate(repo_root, "--data", str(cache), "--generated",
                          str(generated), "--out", str(tmp_path / "r"), "--label",
                          "shattered")
    assert result.returncode == 2
    assert "--label: got 'shattered'" in result.stderr


@pytest.mark.parametrize("defect", ["mixed_sizes", "junk_png", "bad_json"])
def test_read_generated_names_the_bad_file(tmp_path: Path, defect: str) -> None:
    from crackgan.config import ConfigError
    from crackgan.metrics.loading import read_generated

    folder = tmp_path / "generated"
    write_generated(folder, count=3)
    bad = {"mixed_sizes": folder / "00001.png", "junk_png": folder / "00002.png",
           "bad_json": folder / "generation.json"}[defect]
    if defect == "mixed_sizes":
        Image.new("RGB", (16, 16)).save(bad)
    else:
        bad.write_bytes(b"not what it claims {")
    with pytest.raises(ConfigError, match=f"^--generated: {bad}: "):
        read_generated(folder, RESOLUTION)


def test_evaluate_refuses_a_file_as_out_and_help_shows_defaults(
        folders, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture) -> None:
    import evaluate

    cache, generated = folders
    (tmp_path / "report").write_text("not a folder")
    code = evaluate.main(["--data", str(cache), "--generated", str(generated),
                          "--out", str(tmp_path / "report")])
    assert code == 2
    assert f"--out: {tmp_path / 'report'} is a file, expected a folder" in caplog.text
    with pytest.raises(SystemExit):
        evaluate.main(["--help"])
    assert "(default: all)" in capsys.readouterr().out


def test_evaluate_removes_stale_figures_of_other_metrics(folders,
                                                         tmp_path: Path) -> None:
    import evaluate

    cache, generated = folders
    out = tmp_path / "report"
    out.mkdir()
    Image.new("RGB", (4, 4)).save(out / "nearest.png")
    code = evaluate.main(["--data", str(cache), "--generated", str(generated),
                          "--out", str(out), "--metrics", "swd"])
    assert code == 0
    assert not (out / "nearest.png").exists()
    assert (out / "generated_grid.png").is_file()
    assert list(json.loads((out / "report.json").read_text())) == ["swd",
                                                                   "evaluation"]
