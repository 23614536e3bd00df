"""Logging set-up of the scripts and the JSON-lines writer of status records."""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
NOISY_LOGGERS = ("py4j", "pyspark", "tensorflow", "absl", "matplotlib", "PIL", "h5py")
# TensorFlow's C++ code writes absl-formatted lines straight to file descriptor 2, and
# in TensorFlow 2.21 TF_CPP_MIN_LOG_LEVEL no longer stops the ones printed before
# absl is initialised. These are the lines dropped when not verbose: info and
# warning lines, and the error lines a CPU-only machine always prints (no CUDA
# driver, a grappler remapper pass that gives up). Any other error line is kept.
NATIVE_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]"
    rb"|E\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
    rb"(failed call to cuInit|remapper failed))"
)


def setup_logging(verbose: bool = False, quiet_native: bool = False) -> None:
    """Show our INFO messages; keep third-party libraries at WARNING unless verbose.

    With quiet_native (for the scripts that load TensorFlow, which call this before
    importing it), TensorFlow's C++ start-up noise is filtered out of stderr too.
    """
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=level, format=LOG_FORMAT, datefmt="%H:%M:%S", stream=sys.stderr
    )
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        if quiet_native:
            filter_native_stderr()


def filter_native_stderr() -> None:
    """Route file descriptor 2 through a thread that drops NATIVE_NOISE lines.

    Everything else, Python tracebacks included, reaches the real stderr; at exit
    the pipe is drained before the process ends, so no last line is lost.
    """

    # Point descriptor 2 at a pipe; keep the real stderr for the filtered lines.
    sys.stderr.flush()
    real_stderr = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    # Copy every line that is not noise to the real stderr.
    def pump() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not NATIVE_NOISE.match(line):
                    os.write(real_stderr, line)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()

    # At exit, close the pipe's last writer and wait for the pump to drain it.
    def restore() -> None:
        sys.stderr.flush()
        os.dup2(real_stderr, 2)
        thread.join(timeout=5)

    atexit.register(restore)


class JsonlWriter:
    """Append one JSON object per line to a file, flushed after every record."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        record = {"time": round(time.time(), 3), **record}
        self._file.write(json.dumps(record, default=float) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read every complete JSON line of a file; a torn last line is ignored."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records
