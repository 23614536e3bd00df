"""Train a DCGAN (with DiffAugment and an EMA generator) on a cache of photos.

Re-running the same command continues the run from its latest checkpoint.
"""

from __future__ import annotations

import argparse
import logging
import sys

from crackgan.config import CONV_FORMS, TrainConfig, from_namespace
from crackgan.logs import setup_logging

LOG = logging.getLogger("train_gan")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_run_flags(parser, TrainConfig())
    add_model_flags(parser, TrainConfig())
    return parser.parse_args(argv)


def add_run_flags(parser: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    """Flags of the data, the run folder and its schedule."""
    add = parser.add_argument
    add("--data", default=defaults.data, help="cache folder from data_preprocessing.py")
    add("--run-dir", default=defaults.run_dir,
        help="run folder: config.json, checkpoints/, samples/, log.jsonl, losses.png")
    add("--label", default=defaults.label,
        help="train on this label only (None: every label)")
    add("--steps", type=int, default=defaults.steps,
        help="total steps to reach; a larger number continues a finished run")
    add("--batch-size", type=int, default=defaults.batch_size, help="images per step")
    add("--seed", type=int, default=defaults.seed,
        help="seed of weights, latents, data order and augmentation")
    add("--snapshot-every", type=int, default=defaults.snapshot_every,
        help="steps between checkpoints and sample grids")
    add("--log-every", type=int, default=defaults.log_every,
        help="steps between status lines")
    add("--fresh", action="store_true",
        help="start over: move an existing run folder aside to <run-dir>.old-<time>")
    add("--max-minutes", type=float, default=defaults.max_minutes,
        help="wall-clock budget; ends cleanly with a checkpoint (0: no limit)")
    add("--threads", type=int, default=defaults.threads,
        help="TensorFlow intra- and inter-op threads (0: TensorFlow's choice)")
    add("--deterministic", action="store_true",
        help="deterministic TensorFlow ops (for exact-resume checks; slower)")
    add("--verbose", action="store_true", help="show TensorFlow's own INFO logs")


def add_model_flags(parser: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    """Flags of the networks, the augmentation and the optimizers."""
    add = parser.add_argument
    flag = argparse.BooleanOptionalAction
    add("--augment", default=defaults.augment,
        help="DiffAugment policy: comma-separated subset of color,translation,cutout, "
        "or none")
    add("--ada-target", type=float, default=defaults.ada_target,
        help="adaptive augmentation target for mean sign of D(real), e.g. 0.6; "
        "0 applies the policy always")
    add("--ada-speed-images", type=int, default=defaults.ada_speed_images,
        help="images over which the adaptive probability can go from 0 to 1")
    add("--ema", action=flag, default=defaults.ema,
        help="keep an exponential moving average of the generator (--no-ema: off)")
    add("--ema-decay", type=float, default=defaults.ema_decay,
        help="per-step decay of the generator average")
    add("--d-reg", default=defaults.d_reg, choices=("sn", "r1", "none"),
        help="discriminator stabiliser: spectral norm, R1 penalty, or none "
        "(none keeps DCGAN's batch norm in D)")
    add("--r1-gamma", type=float, default=defaults.r1_gamma, help="R1 penalty weight")
    add("--r1-every", type=int, default=defaults.r1_every,
        help="steps between R1 penalties (lazy regularisation)")
    add("--g-lr", type=float, default=defaults.g_lr, help="generator learning rate")
    add("--d-lr", type=float, default=defaults.d_lr, help="discriminator learning rate")
    add("--beta1", type=float, default=defaults.beta1, help="Adam beta1")
    add("--beta2", type=float, default=defaults.beta2, help="Adam beta2")
    add("--g-width", type=int, default=defaults.g_width, help="generator base width")
    add("--d-width", type=int, default=defaults.d_width,
        help="discriminator base width")
    add("--conditional", action="store_true",
        help="one generator for every label (generate_images.py --label picks one)")
    add("--flip", action=flag, default=defaults.flip,
        help="random horizontal flips of real images")
    add("--mixed-precision", action="store_true",
        help="Keras mixed_float16 policy (meant for GPUs)")
    add("--jit-compile", action=flag, default=defaults.jit_compile,
        help="compile the train step with XLA")
    add("--conv-forms", default=defaults.conv_forms, choices=CONV_FORMS,
        help="convolution forms: regrouped (faster on CPUs), native (TensorFlow's "
        "own kernels), auto (native when a GPU is visible); same weights either way")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, quiet_native=True)
    try:
        config = from_namespace(TrainConfig, args)

        # Import TensorFlow only after logging is set up.
        from crackgan.training import TrainingDiverged, train

        run_dir = train(config)
    except ValueError as error:
        LOG.error("%s", error)
        return 2
    except TrainingDiverged as error:
        LOG.error("%s", error)
        return 1
    LOG.info("results are in %s", run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
