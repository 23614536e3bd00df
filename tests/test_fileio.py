"""Tests of the atomic folder swap's refusal to replace what a step did not write."""

from __future__ import annotations

from pathlib import Path

import pytest

from crackgan.config import ConfigError
from crackgan.fileio import check_disjoint, replace_directory


def staged(parent: Path) -> Path:
    """A staging folder holding a marker file and one output."""
    staging = parent / ".out.staging"
    staging.mkdir()
    (staging / "manifest.json").write_text("{}")
    (staging / "new.txt").write_text("new")
    return staging


def test_existing_file_is_refused_and_kept(tmp_path: Path) -> None:
    final = tmp_path / "out"
    final.write_text("the user's notes")
    with pytest.raises(ConfigError, match=f"--output: {final} is a file, expected a "
                       "folder"):
        replace_directory(staged(tmp_path), final, "manifest.json", "--output")
    assert final.read_text() == "the user's notes"
    assert not (tmp_path / ".out.old").exists()


def test_folder_without_marker_is_refused_and_kept(tmp_path: Path) -> None:
    final = tmp_path / "out"
    (final / "photos").mkdir(parents=True)
    (final / "photos" / "a.jpg").write_bytes(b"jpeg")
    with pytest.raises(ConfigError, match="--output: .*out exists and is not a "
                       "crackgan cache \\(no manifest.json\\)"):
        replace_directory(staged(tmp_path), final, "manifest.json", "--output",
                          "crackgan cache")
    assert (final / "photos" / "a.jpg").read_bytes() == b"jpeg"


@pytest.mark.parametrize("old_files", [[], ["manifest.json", "old.txt"]])
def test_empty_or_marked_folder_is_replaced(tmp_path: Path,
                                            old_files: list[str]) -> None:
    final = tmp_path / "out"
    final.mkdir()
    for name in old_files:
        (final / name).write_text("old")
    replace_directory(staged(tmp_path), final, "manifest.json", "--output")
    assert sorted(path.name for path in final.iterdir()) == ["manifest.json",
                                                             "new.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def test_disjoint_check_refuses_same_inside_and_containing(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    for out in (run_dir, run_dir / "checkpoints" / "step-1", tmp_path):
        with pytest.raises(ConfigError, match="--out: .* overlaps --run-dir"):
            check_disjoint(out, "--out", run_dir, "--run-dir")
    check_disjoint(tmp_path / "generated", "--out", run_dir, "--run-dir")
