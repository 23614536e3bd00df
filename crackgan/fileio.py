"""Atomic file and folder writes, so a killed job never leaves a half-written output."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from crackgan.config import ConfigError

# mkstemp creates files readable by the owner only; outputs are shared like any file.
FILE_MODE = 0o644


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes to a temporary file beside path, fsync it, then rename over path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as tmp_file:
            tmp_file.write(data)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.chmod(tmp_name, FILE_MODE)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write obj as indented JSON atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Call writer(tmp_path) on a temporary file beside path, then rename it over path.

    For writers that need a file name rather than bytes (numpy.save, matplotlib
    savefig). The temporary name keeps path's suffix so format sniffing still works.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix
    )
    os.close(handle)
    try:
        writer(Path(tmp_name))
        os.chmod(tmp_name, FILE_MODE)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


class OutputFolderError(ConfigError):
    """An output path holds something this step must not replace; names the flag."""


def check_output_folder(final: str | Path, marker: str, flag: str, what: str) -> None:
    """Raise OutputFolderError unless final is absent, empty, or holds marker.

    A step replaces its output folder whole, so any other file or folder at that path
    (the user's photos, a run folder, a document) would be deleted.
    """
    final = Path(final)
    if final.is_file() or (final.exists() and not final.is_dir()):
        raise OutputFolderError(f"{flag}: {final} is a file, expected a folder")
    if final.is_dir() and not (final / marker).is_file() and any(final.iterdir()):
        raise OutputFolderError(
            f"{flag}: {final} exists and is not a {what} (no {marker}); choose an "
            "empty or new folder")


def check_disjoint(path: str | Path, flag: str, other: str | Path,
                   other_flag: str) -> None:
    """Raise OutputFolderError when path equals, contains or is inside other."""
    path, other = Path(path).resolve(), Path(other).resolve()
    if path == other or path in other.parents or other in path.parents:
        raise OutputFolderError(
            f"{flag}: {path} overlaps {other_flag} {other} (the same folder, inside "
            "it or containing it); choose a folder outside it")


def replace_directory(staging: str | Path, final: str | Path, marker: str | None = None,
                      flag: str = "output folder", what: str = "crackgan output"
                      ) -> None:
    """Move a fully written staging folder into place, removing any older final folder.

    With a marker, an existing final path is replaced only if it is an empty folder
    or one holding that marker file (a folder this step wrote); anything else raises
    OutputFolderError naming flag. The old folder is renamed aside first and deleted
    only after the new one is in place, so at every instant either the old or the new
    complete folder exists.
    """
    staging, final = Path(staging), Path(final)
    if marker is not None:
        check_output_folder(final, marker, flag, what)
    old = final.with_name(f".{final.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    if old.exists():
        shutil.rmtree(old)
