"""Peak driver memory of data_preprocessing.py with N and 10 x N photos of one size.

Runs the script on generated 640x480 JPEGs and samples /proc for the peak resident
memory (VmHWM) of the driver's Python process and of the JVM it starts. Raw bytes
never travel to the driver and decoded pixels pass through it one Parquet row group
at a time, so what grows with the photo count is per-photo metadata and the JVM's
heap, which Java grows lazily up to spark.driver.memory.

Usage: python bench/preprocess_memory.py [--count 100]
Prints both figures and writes outputs/bench/preprocess_memory.json.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from crackgan.fileio import atomic_write_json  # noqa: E402
from crackgan.logs import setup_logging  # noqa: E402

logger = logging.getLogger("bench.preprocess_memory")
BENCH_DIR = REPO_ROOT / "outputs" / "bench"
SAMPLE_INTERVAL_SEC = 0.1


def generate_photos(folder: Path, count: int) -> None:
    """Write count distinct photo-like 640x480 JPEGs, reusing ones already there."""
    rng = np.random.default_rng(count)
    for index in range(count):
        path = folder / ("cracked" if index % 2 else "intact") / f"p{index:05d}.jpg"
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        base = np.asarray(Image.fromarray(coarse).resize((640, 480),
                                                          Image.Resampling.BILINEAR))
        noise = rng.normal(0, 12, size=(480, 640, 1))
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(
            path, "JPEG", quality=90)


def peak_kib(pid: int) -> int:
    """VmHWM (peak resident set) of a process in KiB, 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


def children(pid: int) -> list[int]:
    """Direct child process ids of pid."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found


def is_java(pid: int) -> bool:
    """True when the process runs a java binary."""
    try:
        return Path(f"/proc/{pid}/exe").resolve().name == "java"
    except (FileNotFoundError, PermissionError):
        return False


def measure(photos: Path, out: Path) -> dict[str, float]:
    """Run the script once (forced rebuild); peaks of driver Python and JVM in MiB."""
    command = [sys.executable, str(REPO_ROOT / "data_preprocessing.py"), "--input",
               str(photos), "--output", str(out), "--resolution", "64", "--force",
               "--master", "local[2]"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.PIPE,
                               text=True)
    python_peak = jvm_peak = 0
    while process.poll() is None:
        python_peak = max(python_peak, peak_kib(process.pid))
        for child in children(process.pid):
            if is_java(child):
                jvm_peak = max(jvm_peak, peak_kib(child))
        time.sleep(SAMPLE_INTERVAL_SEC)
    stderr = process.stderr.read()
    if process.returncode != 0:
        raise RuntimeError(f"data_preprocessing.py failed:\n{stderr[-3000:]}")
    return {"driver_python_peak_mib": python_peak / 1024,
            "driver_jvm_peak_mib": jvm_peak / 1024,
            "seconds": time.perf_counter() - started}


def main() -> None:
    """Measure with count and 10 x count photos; print and write both."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100,
                        help="photos in the small run; the large one has ten times "
                        "as many (default: %(default)s)")
    args = parser.parse_args()
    setup_logging(False)
    results = {}
    for count in (args.count, 10 * args.count):
        photos = BENCH_DIR / f"memory_photos_{count}"
        generate_photos(photos, count)
        results[count] = measure(photos, BENCH_DIR / f"memory_cache_{count}")
        logger.info("%5d photos: driver Python peak %6.0f MiB, driver JVM peak %6.0f "
                    "MiB (%.0f s)", count, results[count]["driver_python_peak_mib"],
                    results[count]["driver_jvm_peak_mib"], results[count]["seconds"])
    atomic_write_json(BENCH_DIR / "preprocess_memory.json", results)
    logger.info("results are in %s", BENCH_DIR / "preprocess_memory.json")


if __name__ == "__main__":
    main()
