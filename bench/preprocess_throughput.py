"""Images per second of photo decoding: plain Pillow, Pillow with JPEG draft mode, and
the warm Spark job of data_preprocessing.py, on generated 12 MP phone-sized JPEGs.

Usage: python bench/preprocess_throughput.py [--count 200] [--rounds 3]
       [--master local[2]]
Prints a table and writes outputs/bench/preprocess_throughput.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import logging
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from crackgan import ingest  # noqa: E402
from crackgan.config import PreprocessConfig  # noqa: E402
from crackgan.fileio import atomic_write_json  # noqa: E402
from crackgan.images import decode_image, fit_square  # noqa: E402
from crackgan.logs import setup_logging  # noqa: E402

logger = logging.getLogger("bench.preprocess_throughput")
PHOTO_SIZE = (4000, 3000)
BENCH_DIR = REPO_ROOT / "outputs" / "bench"


def parse_args() -> argparse.Namespace:
    """Flags of this benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200,
                        help="generated 12 MP JPEGs (default: %(default)s)")
    parser.add_argument("--full-decode-count", type=int, default=30,
                        help="photos timed with full decoding, which is slow "
                        "(default: %(default)s)")
    parser.add_argument("--resolution", type=int, default=64,
                        help="target side in pixels (default: %(default)s)")
    parser.add_argument("--master", default="local[2]",
                        help="Spark master for the job (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="draft loop + warm build pairs; the median ratio is "
                        "reported (default: %(default)s)")
    parser.add_argument("--partitions", type=int, default=0,
                        help="--partitions of the job; 0 is its default")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds: got {args.rounds}, expected a positive integer")
    return args


def generate_photos(folder: Path, count: int) -> list[Path]:
    """Write count distinct photo-like 4000x3000 JPEGs (quality 90), reusing old ones.

    Each is a smooth random colour field with a shifted copy of one fine-grained
    texture on top, so JPEG sizes are like a phone camera's (a few MB), not like a
    flat colour's.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    width, height = PHOTO_SIZE
    texture = rng.normal(0, 18, size=(height, width, 1)).astype(np.float32)
    paths = []
    for index in range(count):
        path = folder / "phone" / f"IMG_{index:04d}.jpg"
        paths.append(path)
        if path.exists():
            continue
        coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        base = np.asarray(Image.fromarray(coarse).resize(PHOTO_SIZE,
                                                          Image.Resampling.BILINEAR))
        shifted = np.roll(texture, shift=(index * 37, index * 53), axis=(0, 1))
        pixels = np.clip(base + shifted, 0, 255).astype(np.uint8)
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(pixels).save(path, "JPEG", quality=90)
        if (index + 1) % 25 == 0:
            logger.info("generated %d/%d photos", index + 1, count)
    return paths


def pillow_rate(paths: list[Path], resolution: int, draft: bool) -> float:
    """Images per second of a single-process Pillow loop: decode, crop, resize."""
    started = time.perf_counter()
    for path in paths:
        data = path.read_bytes()
        if draft:
            decoded = decode_image(data, resolution)
            assert decoded.pixels is not None, decoded.reason
        else:
            image = Image.open(io.BytesIO(data)).convert("RGB")
            np.asarray(fit_square(image, resolution, "center"))
    return len(paths) / (time.perf_counter() - started)


def pool_draft_rate(paths: list[Path], resolution: int, processes: int) -> float:
    """Images per second of the draft-mode loop split over worker processes.

    The ceiling any parallel job can reach on this machine at this moment: other
    work sharing the CPUs lowers it below processes x the single-process rate.
    """
    chunks = [paths[index::processes] for index in range(processes)]
    with multiprocessing.Pool(processes) as pool:
        started = time.perf_counter()
        pool.starmap(pillow_rate, [(chunk, resolution, True) for chunk in chunks])
        return len(paths) / (time.perf_counter() - started)


def spark_rates(args: argparse.Namespace, photos: Path, paths: list[Path]
                ) -> dict[str, Any]:
    """Session start-up seconds, then images/s of forced builds in one session.

    The first build warms the JVM and the Python workers. Each warm build is timed
    right after a draft-mode loop, so that both see the same load from other work on
    the machine; the default way of reading bytes gets --rounds such pairs, whose
    median ratio is the headline, and --read-bytes binaryfile gets one, in a
    session of its own after a first build.
    """
    config = PreprocessConfig(input=str(photos), output=str(BENCH_DIR / "cache"),
                              resolution=args.resolution, master=args.master,
                              force=True, partitions=args.partitions)
    started = time.perf_counter()
    rates: dict[str, Any] = {}
    with ingest.spark_session(config) as spark:
        rates["startup_sec"] = time.perf_counter() - started
        rates["first_job_images_per_sec"] = build_rate(config, spark)
        pairs = [(pillow_rate(paths, args.resolution, draft=True),
                  build_rate(config, spark)) for _ in range(args.rounds)]

    # binaryfile gets a session of its own: the JVM's settings depend on the mode.
    config = dataclasses.replace(config, read_bytes="binaryfile")
    with ingest.spark_session(config) as spark:
        build_rate(config, spark)
        rates["draft_before_binaryfile_images_per_sec"] = pillow_rate(
            paths, args.resolution, draft=True)
        rates["warm_job_binaryfile_images_per_sec"] = build_rate(config, spark)
    ratios = [warm / draft for draft, warm in pairs]
    middle = ratios.index(statistics.median_low(ratios))
    rates["rounds"] = [{"draft_images_per_sec": draft, "warm_images_per_sec": warm,
                        "ratio": warm / draft} for draft, warm in pairs]
    rates["draft_before_warm_job_images_per_sec"] = pairs[middle][0]
    rates["warm_job_images_per_sec"] = pairs[middle][1]
    return rates


def build_rate(config: PreprocessConfig, spark: Any) -> float:
    """Images per second of one forced cache build in the given Spark session."""
    started = time.perf_counter()
    manifest = ingest.run(config, spark=spark)
    return manifest["inputs_seen"] / (time.perf_counter() - started)


def main() -> None:
    """Generate photos, time the three ways, print a table and write JSON."""
    args = parse_args()
    setup_logging(False)
    photos = BENCH_DIR / f"photos_{args.count}"
    paths = generate_photos(photos, args.count)
    load = os.getloadavg()[0]

    # The same photos through each way of decoding.
    full = pillow_rate(paths[: args.full_decode_count], args.resolution, draft=False)
    draft = pillow_rate(paths, args.resolution, draft=True)
    pool = pool_draft_rate(paths, args.resolution, processes=2)
    spark = spark_rates(args, photos, paths)
    draft_near_warm = spark["draft_before_warm_job_images_per_sec"]
    results = {
        "photos": args.count, "photo_size": list(PHOTO_SIZE),
        "resolution": args.resolution, "master": args.master,
        "cpu_count": os.cpu_count(), "load_average_at_start": load,
        "pillow_full_decode_images_per_sec": full,
        "pillow_draft_images_per_sec": draft,
        "pillow_draft_2_processes_images_per_sec": pool, **spark,
        "warm_spark_over_draft": spark["warm_job_images_per_sec"] / draft_near_warm,
    }
    logger.info("%-40s %10s", "way", "images/s")
    for label, key in [("Pillow, full decode, 1 process", "pillow_full_decode"),
                       ("Pillow, draft mode, 1 process", "pillow_draft"),
                       ("Pillow, draft mode, 2 processes", "pillow_draft_2_processes"),
                       (f"Spark job, first run ({args.master})", "first_job"),
                       ("Pillow, draft, just before warm", "draft_before_warm_job"),
                       (f"Spark job, warm ({args.master})", "warm_job"),
                       ("Pillow, draft, just before next",
                        "draft_before_binaryfile"),
                       ("Spark job, warm, --read-bytes binaryfile",
                        "warm_job_binaryfile")]:
        logger.info("%-40s %10.1f", label, results[f"{key}_images_per_sec"])
    logger.info("Spark session start-up: %.1f s; warm job / draft loop run just "
                "before it: %.2fx, median of %s "
                "(load average %.1f at start: other work shares these CPUs)",
                spark["startup_sec"], results["warm_spark_over_draft"],
                ", ".join(f"{item['ratio']:.2f}x" for item in spark["rounds"]), load)
    atomic_write_json(BENCH_DIR / "preprocess_throughput.json", results)
    logger.info("results are in %s", BENCH_DIR / "preprocess_throughput.json")


if __name__ == "__main__":
    main()
