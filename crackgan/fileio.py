"""Atomic file and folder writes, so a killed job never leaves a half-written output."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

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


def replace_directory(staging: str | Path, final: str | Path) -> None:
    """Move a fully written staging folder into place, removing any older final folder.

    The old folder is renamed aside first and deleted only after the new one is in
    place, so at every instant either the old or the new complete folder exists.
    """
    staging, final = Path(staging), Path(final)
    old = final.with_name(f".{final.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    if old.exists():
        shutil.rmtree(old)
