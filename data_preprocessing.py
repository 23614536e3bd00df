"""Turn a folder of phone photos into the training cache, with PySpark.

Usage: python data_preprocessing.py --input data/images --output outputs/cache
"""

from __future__ import annotations

import argparse
import logging
import sys

from crackgan.config import (
    DEFAULT_CACHE,
    DEFAULT_INPUT,
    ConfigError,
    PreprocessConfig,
    SUPPORTED_RESOLUTIONS,
    from_namespace,
)
from crackgan.logs import setup_logging

logger = logging.getLogger("data_preprocessing")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; flags are named as PreprocessConfig's fields."""
    defaults = PreprocessConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=DEFAULT_INPUT,
                        help="folder of photos, searched recursively; the label of a "
                        "photo is its parent folder's name (default: %(default)s)")
    parser.add_argument("--output", default=DEFAULT_CACHE,
                        help="cache folder to write, replaced whole: a new or empty "
                        "folder or an earlier cache, outside --input "
                        "(default: %(default)s)")
    parser.add_argument("--resolution", type=int, default=defaults.resolution,
                        help=f"side of the square images, one of "
                        f"{SUPPORTED_RESOLUTIONS} (default: %(default)s)")
    parser.add_argument("--crop", choices=("center", "pad"), default=defaults.crop,
                        help="'center' crops the centred square, 'pad' letterboxes "
                        "the whole photo on black (default: %(default)s)")
    parser.add_argument("--master", default=defaults.master,
                        help="Spark master URL: local, local[N], local[*], "
                        "local[N,F], spark://HOST:PORT[,HOST:PORT...], yarn or "
                        "k8s://URL (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="seed for the choice of images in reals.png "
                        "(default: %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="rebuild even when the cache is up to date")
    parser.add_argument("--min-size", type=int, default=defaults.min_size,
                        help="skip photos whose short side is smaller, in pixels "
                        "(default: %(default)s)")
    parser.add_argument("--max-pixels", type=int, default=defaults.max_pixels,
                        help="skip photos with more pixels than this, checked from "
                        "the header before decoding (default: %(default)s)")
    parser.add_argument("--near-duplicates", action="store_true",
                        help="also drop photos whose perceptual hash is close to an "
                        "earlier photo's")
    parser.add_argument("--near-duplicate-distance", type=int,
                        default=defaults.near_duplicate_distance,
                        help="largest Hamming distance (of 64 bits) counted as a "
                        "near-duplicate (default: %(default)s)")
    parser.add_argument("--partitions", type=int, default=defaults.partitions,
                        help="Spark partitions for decoding; 0 uses one per core, or "
                        "two per core from 64 files per partition up "
                        "(default: %(default)s)")
    parser.add_argument("--read-bytes", choices=("worker", "binaryfile"),
                        default=defaults.read_bytes,
                        help="'worker': each Python decoding worker reads its share "
                        "of the files found by the driver (fast); 'binaryfile': "
                        "Spark lists and reads them in the JVM and sends the bytes "
                        "through Arrow (default: %(default)s)")
    parser.add_argument("--verbose", action="store_true",
                        help="show Spark's and the JVM's INFO logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the cache; return the process exit code."""
    args = parse_args(argv)
    setup_logging(args.verbose)
    if args.verbose:
        # Spark's INFO is verbose enough; py4j's DEBUG logs every gateway call.
        logging.getLogger("py4j").setLevel(logging.WARNING)
    from crackgan.ingest import NoUsableImagesError, run

    try:
        config = from_namespace(PreprocessConfig, args)
        manifest = run(config)
    except (ConfigError, NoUsableImagesError) as error:
        logger.error("%s", error)
        return 2
    logger.info("results are in %s (%d images at %d px)", config.output,
                manifest["count"], manifest["resolution"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
