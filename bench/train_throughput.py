"""Images per second of the training step, and its FLOP rate against float32 matmul.

Times the compiled step at 64x64 (widths 64, batch 64 by default) with augmentation
and EMA off and on, for each discriminator stabiliser, optionally under XLA. FLOPs are
counted analytically (2*H*W*K*K*Cin*Cout per convolution, 2*in*out per dense layer;
backward taken as twice forward) and compared with a large tf.matmul timed in the same
run. Configurations are timed in interleaved rounds and the best round is kept,
because the machine may be shared. Prints a table and writes JSON to outputs/bench/.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crackgan.logs import setup_logging  # noqa: E402

LOG = logging.getLogger("train_throughput")
VARIANTS = {
    "plain DCGAN (no aug, no EMA, BN in D)": dict(augment="none", ema=False,
                                                  d_reg="none"),
    "aug+EMA, BN in D": dict(d_reg="none"),
    "aug+EMA, spectral norm": dict(d_reg="sn"),
    "aug+EMA, R1 every 4": dict(d_reg="r1"),
    "aug+EMA, spectral norm, XLA": dict(d_reg="sn", jit_compile=True),
}


def layer_flops(layer, batch: int) -> float:
    """Forward multiply-add FLOPs of one layer for a batch (0 for cheap layers)."""
    import numpy as np
    from keras import layers

    from crackgan.models import SpectralNormConv2D

    if isinstance(layer, (layers.Conv2D, SpectralNormConv2D)):
        kernel = layer.kernel.shape
        height, width = layer.output.shape[1:3]
        return 2.0 * batch * height * width * float(np.prod(kernel))
    if isinstance(layer, layers.Conv2DTranspose):
        kernel = layer.kernel.shape  # (k, k, out, in)
        height, width = layer.input.shape[1:3]
        return 2.0 * batch * height * width * float(np.prod(kernel))
    if isinstance(layer, layers.Dense):
        return 2.0 * batch * layer.kernel.shape[0] * layer.kernel.shape[1]
    return 0.0


def step_flops(gan, batch: int) -> float:
    """Forward G on a batch, D on real and fake batches; backward twice forward."""
    forward = sum(layer_flops(layer, batch) for layer in gan.generator.layers)
    forward += sum(layer_flops(layer, 2 * batch) for layer in gan.discriminator.layers)
    return 3.0 * forward


def matmul_rate(size: int = 4096, repeats: int = 10) -> float:
    """Best float32 FLOP/s of a size x size matmul."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    tf.matmul(a, b).numpy()
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        tf.matmul(a, b).numpy()
        best = max(best, 2.0 * size**3 / (time.perf_counter() - started))
    return best


def build_step(args: argparse.Namespace, overrides: dict):
    """A Gan and a function timing its compiled step for one variant."""
    import tensorflow as tf

    from crackgan.config import TrainConfig
    from crackgan.gan import Gan

    config = TrainConfig(batch_size=args.batch_size, g_width=args.width,
                         d_width=args.width, **overrides)
    gan = Gan(config, args.resolution, 1, tf.distribute.get_strategy())
    functions = {False: gan.make_train_step(with_r1=False)}
    if config.d_reg == "r1":
        functions[True] = gan.make_train_step(with_r1=True)
    images = tf.random.uniform((args.batch_size, args.resolution, args.resolution, 3),
                               -1.0, 1.0)
    labels = tf.zeros((args.batch_size,), tf.int32)

    def run(steps: int) -> float:
        started = time.perf_counter()
        for index in range(steps):
            with_r1 = config.d_reg == "r1" and index % config.r1_every == 0
            functions[with_r1](images, labels)["finite"].numpy()
        return time.perf_counter() - started

    return gan, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resolution", type=int, default=64, help="image side")
    parser.add_argument("--width", type=int, default=64, help="G and D base width")
    parser.add_argument("--batch-size", type=int, default=64, help="images per step")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow threads (0: TensorFlow's choice)")
    parser.add_argument("--out", default="outputs/bench/train_throughput.json",
                        help="JSON output file")
    args = parser.parse_args()
    setup_logging()
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    # Build and warm every variant, then time them in interleaved rounds.
    peak = matmul_rate()
    runners = {name: build_step(args, overrides)
               for name, overrides in VARIANTS.items()}
    # Warm up after every build: building reseeds TensorFlow, which forces a retrace.
    for _, run in runners.values():
        run(3)
    best = dict.fromkeys(VARIANTS, float("inf"))
    for round_index in range(args.rounds):
        for name, (_, run) in runners.items():
            best[name] = min(best[name], run(args.steps))
        LOG.info("round %d/%d done", round_index + 1, args.rounds)

    # Table and JSON.
    plain_seconds = best[next(iter(VARIANTS))] / args.steps
    rows = []
    for name, (gan, _) in runners.items():
        seconds = best[name] / args.steps
        flops = step_flops(gan, args.batch_size)
        rows.append({"variant": name, "images_per_second": args.batch_size / seconds,
                     "seconds_per_step": seconds, "flops_per_step": flops,
                     "flops_per_second": flops / seconds,
                     "share_of_matmul_rate": flops / seconds / peak,
                     "cost_vs_plain": seconds / plain_seconds - 1.0})
    LOG.info("matmul float32 rate: %.1f GFLOP/s", peak / 1e9)
    LOG.info("%-42s %8s %10s %8s %9s", "variant", "img/s", "GFLOP/s", "matmul%",
             "vs plain")
    for row in rows:
        LOG.info("%-42s %8.1f %10.1f %7.0f%% %+8.0f%%", row["variant"],
                 row["images_per_second"], row["flops_per_second"] / 1e9,
                 100 * row["share_of_matmul_rate"], 100 * row["cost_vs_plain"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"settings": vars(args), "matmul_flops_per_second": peak,
                               "rows": rows}, indent=2) + "\n")
    LOG.info("results are in %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
