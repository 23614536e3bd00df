"""Write new images with the averaged (EMA) generator of a training run."""

from __future__ import annotations

import argparse
import logging
import sys

from crackgan.config import GenerateConfig, from_namespace
from crackgan.logs import setup_logging

LOG = logging.getLogger("generate_images")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = GenerateConfig()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = parser.add_argument
    add("--run-dir", default=defaults.run_dir, help="run folder from train_gan.py")
    add("--out", default=defaults.out,
        help="folder for 00000.png..., grid.png and generation.json, replaced whole: "
        "a new or empty folder or an earlier output, outside --run-dir")
    add("--num", type=int, default=defaults.num, help="number of images")
    add("--seed", type=int, default=defaults.seed,
        help="seed of the latent vectors; the same seed gives the same images")
    add("--checkpoint", default=defaults.checkpoint,
        help="checkpoint step or folder (default: the latest)")
    add("--label", default=defaults.label,
        help="label to generate (required for a conditional run)")
    add("--batch-size", type=int, default=defaults.batch_size,
        help="images per generator call")
    add("--verbose", action="store_true", help="show TensorFlow's own INFO logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, quiet_native=True)
    try:
        config = from_namespace(GenerateConfig, args)

        # Import TensorFlow only after logging is set up.
        from crackgan.sampling import generate

        out = generate(config)
    except ValueError as error:
        LOG.error("%s", error)
        return 2
    LOG.info("results are in %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
