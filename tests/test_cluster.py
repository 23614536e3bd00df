"""data_preprocessing.py on a real Spark standalone cluster (one master, one worker, on
127.0.0.1) gives the same cache as local mode, and the decoding runs on the worker."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pyspark
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

SPARK_HOME = Path(pyspark.__file__).resolve().parent
START_TIMEOUT_SEC = 120


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def loopback_env() -> dict[str, str]:
    """Environment that keeps Spark on 127.0.0.1 and on this interpreter."""
    return {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_HOME": str(SPARK_HOME),
            "PYSPARK_PYTHON": sys.executable}


def wait_for_line(log: Path, text: str, process: subprocess.Popen) -> None:
    """Wait until a daemon's log holds text; fail early if the daemon died."""
    deadline = time.monotonic() + START_TIMEOUT_SEC
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            pytest.fail(f"{log.name} exited with {process.returncode}:\n"
                        f"{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"{text!r} not in {log} after {START_TIMEOUT_SEC} s")


def start_daemon(arguments: list[str], log: Path) -> subprocess.Popen:
    """Start a Spark daemon class in its own process group, logging to a file."""
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [str(SPARK_HOME / "bin" / "spark-class"), *arguments], stdout=handle,
            stderr=subprocess.STDOUT, env=loopback_env(), start_new_session=True)


def stop_daemon(process: subprocess.Popen) -> None:
    """Stop a daemon's process group; kill it if it does not stop in time."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait(timeout=30)


@pytest.fixture
def spark_cluster(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A standalone master and a one-core worker; yields (master URL, work dir)."""
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    work_dir = tmp_path / "worker-work"
    work_dir.mkdir()
    daemons = []
    try:
        master_log = tmp_path / "master.log"
        daemons.append(start_daemon(
            ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
             str(port), "--webui-port", str(free_port())], master_log))
        wait_for_line(master_log, "I have been elected leader", daemons[0])
        worker_log = tmp_path / "worker.log"
        daemons.append(start_daemon(
            ["org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
             "--webui-port", str(free_port()), "-c", "1", "-m", "1g",
             "--work-dir", str(work_dir)], worker_log))
        wait_for_line(worker_log, "Successfully registered with master", daemons[1])
        yield url, work_dir
    finally:
        for daemon in reversed(daemons):
            stop_daemon(daemon)


def preprocess(repo_root: Path, photos: Path, out: Path, *options: str
               ) -> subprocess.CompletedProcess:
    """Run data_preprocessing.py at resolution 32 with the given options."""
    return subprocess.run(
        [sys.executable, str(repo_root / "data_preprocessing.py"), "--input",
         str(photos), "--output", str(out), "--resolution", "32", *options],
        cwd=repo_root, env=loopback_env(), capture_output=True, text=True, timeout=600)


def test_cluster_cache_equals_local_cache(repo_root: Path, real_photos: Path,
                                          tmp_path: Path,
                                          spark_cluster: tuple[str, Path]) -> None:
    url, work_dir = spark_cluster
    # The cluster's Python workers read the files; locally the JVM sends the bytes,
    # so the comparison also covers both --read-bytes ways.
    on_cluster = preprocess(repo_root, real_photos, tmp_path / "cluster", "--master",
                            url)
    assert on_cluster.returncode == 0, on_cluster.stderr[-5000:]
    local = preprocess(repo_root, real_photos, tmp_path / "local", "--master",
                       "local[2]", "--read-bytes", "binaryfile")
    assert local.returncode == 0, local.stderr[-5000:]

    # Same pixels, same labels, same label names.
    for name in ("images.npy", "labels.npy"):
        assert np.array_equal(np.load(tmp_path / "cluster" / name),
                              np.load(tmp_path / "local" / name)), name
    cluster_manifest = json.loads((tmp_path / "cluster" / "manifest.json").read_text())
    local_manifest = json.loads((tmp_path / "local" / "manifest.json").read_text())
    assert cluster_manifest["count"] == local_manifest["count"] == 144
    assert cluster_manifest["labels"] == local_manifest["labels"]
    assert cluster_manifest["options"]["master"] == url

    # The decoding Python workers ran inside the worker's executor folder
    # (work-dir/app-*/<executor id>), which also holds the executor's logs.
    executor_dirs = [path for path in work_dir.glob("app-*/*") if path.is_dir()]
    assert executor_dirs and (executor_dirs[0] / "stderr").is_file()
    decoded_in = {Path(entry.split("|")[2]).resolve()
                  for entry in cluster_manifest["decoded_by"]}
    assert decoded_in and all(
        any(folder == executor.resolve() for executor in executor_dirs)
        for folder in decoded_in), (decoded_in, executor_dirs)
    assert all(Path(entry.split("|")[2]).resolve() == repo_root.resolve()
               for entry in local_manifest["decoded_by"])
