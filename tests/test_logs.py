"""Tests of the stderr filter that hides TensorFlow's C++ start-up noise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from crackgan.logs import NATIVE_NOISE

REPO_ROOT = Path(__file__).resolve().parent.parent

NOISE_LINES = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to "
    b"STDERR\n",
    b"I0000 00:00:1796407155.847319    7625 port.cc:153] oneDNN custom operations\n",
    b"E0000 00:00:1796407162.213819    7625 cuda_platform.cc:52] "
    b"failed call to cuInit: INTERNAL\n",
]
KEPT_LINES = [
    b"E0000 00:00:1796407162.213819    7625 some_op.cc:52] out of memory\n",
    b"Traceback (most recent call last):\n",
    b"12:00:00 WARNING crackgan.training: D winning\n",
]


def test_noise_lines_match_and_real_errors_do_not() -> None:
    assert all(NATIVE_NOISE.match(line) for line in NOISE_LINES)
    assert not any(NATIVE_NOISE.match(line) for line in KEPT_LINES)


def test_filtered_process_keeps_its_traceback_and_drops_noise() -> None:
    code = (
        "import os, sys\n"
        "from crackgan.logs import setup_logging\n"
        "setup_logging(False, quiet_native=True)\n"
        f"os.write(2, {NOISE_LINES[1]!r})\n"
        "sys.stderr.write('kept line\\n')\n"
        "raise RuntimeError('boom')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, cwd=REPO_ROOT
    )
    assert result.returncode == 1
    assert b"kept line" in result.stderr
    assert b"RuntimeError: boom" in result.stderr
    assert b"oneDNN" not in result.stderr
