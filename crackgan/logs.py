"""Logging set-up shared by the scripts, and the JSON-lines writer for status records."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
NOISY_LOGGERS = ("py4j", "pyspark", "tensorflow", "absl", "matplotlib", "PIL", "h5py")


def setup_logging(verbose: bool = False) -> None:
    """Show our INFO messages; keep third-party libraries at WARNING unless verbose.

    Also sets the environment variables that silence TensorFlow's C++ start-up
    messages; call this before TensorFlow is imported.
    """
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format=LOG_FORMAT, datefmt="%H:%M:%S", stream=sys.stderr)
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


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
