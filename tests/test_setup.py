"""Tests of the set-up scripts behind make: environment checks and the demo sequence.

Fake ``python`` and ``java`` programs stand in for the real ones, so each check's
message can be seen without installing anything.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

CHECK_ENV = REPO_ROOT / "scripts" / "check_env.sh"
DEMO = REPO_ROOT / "scripts" / "demo.sh"


def fake_program(folder: Path, name: str, body: str) -> Path:
    """An executable shell script called name in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/usr/bin/env bash\n" + body + "\n")
    path.chmod(0o755)
    return path


def fake_java(folder: Path, version_line: str) -> Path:
    return fake_program(folder, "java", f"echo '{version_line}' >&2")


def fake_python(folder: Path, version: str) -> Path:
    return fake_program(folder, "python", f"echo {version}")


def run_check(args: list[str], bin_folder: Path) -> subprocess.CompletedProcess:
    """check_env.sh with bin_folder first on the PATH and no JAVA_HOME."""
    environment = {key: value for key, value in os.environ.items()
                   if key != "JAVA_HOME"}
    environment["PATH"] = f"{bin_folder}{os.pathsep}{environment['PATH']}"
    return subprocess.run(["bash", str(CHECK_ENV), *args], capture_output=True,
                          text=True, env=environment, timeout=60)


def test_check_passes_with_python_311_and_java_17(tmp_path) -> None:
    python = fake_python(tmp_path / "bin", "3.11")
    fake_java(tmp_path / "bin", 'openjdk version "17.0.15" 2025-04-15')

    result = run_check(["install", str(python), str(tmp_path / "venv"), "0"],
                       tmp_path / "bin")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("version", ["3.9", "3.12"])
def test_wrong_python_names_the_fix(tmp_path, version) -> None:
    python = fake_python(tmp_path / "bin", version)
    fake_java(tmp_path / "bin", 'openjdk version "17.0.15" 2025-04-15')

    result = run_check(["install", str(python), str(tmp_path / "venv"), "0"],
                       tmp_path / "bin")
    assert result.returncode == 1
    assert f"Python {version}" in result.stderr
    assert "PYTHON=" in result.stderr and "3.11" in result.stderr


def test_missing_python_is_named(tmp_path) -> None:
    fake_java(tmp_path / "bin", 'openjdk version "17.0.15" 2025-04-15')
    result = run_check(["install", "no-such-python3.11", str(tmp_path / "venv"), "0"],
                       tmp_path / "bin")

    assert result.returncode == 1
    assert "'no-such-python3.11' was not found" in result.stderr


@pytest.mark.parametrize("version_line", [
    'openjdk version "11.0.2" 2019-01-15',
    'java version "1.8.0_292"',
])
def test_old_java_names_the_debian_package(tmp_path, version_line) -> None:
    python = fake_python(tmp_path / "bin", "3.11")
    fake_java(tmp_path / "bin", version_line)

    result = run_check(["install", str(python), str(tmp_path / "venv"), "0"],
                       tmp_path / "bin")
    assert result.returncode == 1
    assert "Java 17" in result.stderr
    assert "apt-get install -y openjdk-17-jre-headless" in result.stderr


def test_low_disk_space_is_reported(tmp_path) -> None:
    python = fake_python(tmp_path / "bin", "3.11")
    fake_java(tmp_path / "bin", 'openjdk version "21.0.1" 2023-10-17')

    result = run_check(["install", str(python), str(tmp_path / "venv"), "100000000"],
                       tmp_path / "bin")
    assert result.returncode == 1
    assert "GiB free" in result.stderr and "VENV=" in result.stderr


def run_demo(
    tmp_path: Path, images: Path, expected_returncode: int = 0
) -> tuple[list[str], str]:
    """demo.sh with a fake interpreter; the commands it was given, and stderr."""
    calls = tmp_path / "calls.txt"
    python = fake_program(tmp_path / "bin", "python", f'echo "$*" >> {calls}')
    environment = {
        **os.environ, "PYTHON_BIN": str(python), "IMAGES": str(images),
        "DEMO_DATA": str(tmp_path / "demo-data"), "DEMO_COUNT": "40",
        "DEMO_SEED": "3", "DEMO_RESOLUTION": "64", "DEMO_LABEL": "cracked",
        "DEMO_MINUTES": "2", "DEMO_STEPS": "500", "DEMO_NUM": "50",
        "DEMO_FRESH": "--fresh", "DEMO_EVAL_FLAGS": "",
    }
    result = subprocess.run(["bash", str(DEMO)], capture_output=True, text=True,
                            env=environment, cwd=tmp_path, timeout=60)
    assert result.returncode == expected_returncode, result.stderr
    commands = calls.read_text().splitlines() if calls.exists() else []
    return commands, result.stderr


def test_demo_without_photos_uses_the_procedural_set(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    calls, _ = run_demo(tmp_path, tmp_path / "empty")

    demo_data = str(tmp_path / "demo-data")
    assert calls[0].startswith(f"-m crackgan.demo_data --out {demo_data} --count 40")
    assert "--seed 3" in calls[0]
    assert calls[1].startswith(f"data_preprocessing.py --input {demo_data} ")
    assert calls[2].startswith("train_gan.py ")
    assert "--label cracked" in calls[2] and "--max-minutes 2" in calls[2]
    assert "--fresh" in calls[2]
    assert calls[3].startswith("generate_images.py ") and "--num 50" in calls[3]
    assert calls[4].startswith("evaluate.py ")
    assert len(calls) == 5


def test_demo_with_photos_uses_them(tmp_path) -> None:
    photos = tmp_path / "photos" / "cracked"
    photos.mkdir(parents=True)
    (photos / "a.JPG").write_bytes(b"")
    calls, _ = run_demo(tmp_path, tmp_path / "photos")

    assert not any("crackgan.demo_data" in call for call in calls)
    assert calls[0].startswith(f"data_preprocessing.py --input {tmp_path / 'photos'} ")
    assert len(calls) == 4


def test_makefile_runs_pytest_with_the_venv() -> None:
    result = subprocess.run(["make", "-n", "test", "VENV=/nonexistent-venv"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "/nonexistent-venv/bin/python -m pytest" in result.stdout
    assert "--no-deps -r requirements-eval.txt" in result.stdout
    assert "/nonexistent-venv/.installed-" in result.stdout


def test_demo_names_the_missing_label_folder(tmp_path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "loose.jpg").write_bytes(b"")
    calls, stderr = run_demo(tmp_path, photos, expected_returncode=2)

    assert calls == []
    assert "no folder named 'cracked'" in stderr and "DEMO_LABEL=" in stderr
