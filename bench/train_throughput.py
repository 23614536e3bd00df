"""Images per second of the training step, and its FLOP rate against float32 matmul.

Times the compiled step at 64x64 (widths 64, batch 64 by default) with augmentation
and EMA off and on, for each discriminator stabiliser, optionally under XLA, and with
TensorFlow's own convolution kernels instead of crackgan.convolutions' forms, and a
textbook Keras DCGAN step of the same size as a reference. FLOPs are
counted on the step's traced graph (every convolution, its two backward kernels and
every matmul, 2 per multiply-add) and compared with 4096x4096 float32 matmuls timed
in the same run. The default variant's convolutions are also timed one by one, alone:
the rate the step would reach if it did nothing else. Configurations are timed in
interleaved rounds and the best round is kept, because the machine may be shared.
Prints a table and writes JSON to outputs/bench/.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crackgan.logs import setup_logging  # noqa: E402

LOG = logging.getLogger("train_throughput")
VARIANTS = {
    "plain DCGAN (no aug, no EMA, BN in D)": dict(augment="none", ema=False,
                                                  d_reg="none"),
    "aug+EMA, BN in D": dict(d_reg="none"),
    "aug+EMA, spectral norm": dict(d_reg="sn"),
    "aug+EMA, R1 every 4 (default)": dict(d_reg="r1"),
    "plain, TensorFlow's own convolutions": dict(augment="none", ema=False,
                                                 d_reg="none", conv_forms="native"),
    "default, TensorFlow's own convolutions": dict(d_reg="r1", conv_forms="native"),
    "aug+EMA, spectral norm, XLA": dict(d_reg="sn", jit_compile=True),
}
DEFAULT_VARIANT = "aug+EMA, R1 every 4 (default)"
REFERENCE = "reference: textbook Keras DCGAN"
# The reference's latent size, as in the DCGAN paper.
REFERENCE_LATENT = 100


def op_flops(op: Any) -> float:
    """Multiply-add FLOPs of one graph operation (0 for element-wise ones)."""
    import numpy as np

    if op.type == "Conv2D":
        batch, height, width, out_channels = op.outputs[0].shape
        kernel_h, kernel_w, in_channels, _ = op.inputs[1].shape
    elif op.type in ("Conv2DBackpropInput", "Conv2DBackpropFilter"):
        # Both cost what the forward convolution producing out_backprop costs.
        batch, height, width, out_channels = op.inputs[2].shape
        kernel = (op.inputs[1] if op.type == "Conv2DBackpropInput"
                  else op.outputs[0]).shape
        kernel_h, kernel_w, in_channels, _ = kernel
    elif op.type in ("MatMul", "BatchMatMulV2"):
        left, right = op.inputs[0].shape, op.inputs[1].shape
        names = ("transpose_a", "transpose_b") if op.type == "MatMul" else (
            "adj_x", "adj_y")
        rows = left[-1] if op.get_attr(names[0]) else left[-2]
        inner = left[-2] if op.get_attr(names[0]) else left[-1]
        columns = right[-2] if op.get_attr(names[1]) else right[-1]
        batch_dims = op.outputs[0].shape[:-2]
        return 2.0 * float(np.prod(batch_dims)) * rows * inner * columns
    else:
        return 0.0
    pixels = batch * height * width
    return 2.0 * pixels * kernel_h * kernel_w * in_channels * out_channels


def graph_flops(function: Any, images: Any, labels: Any) -> float:
    """FLOPs per call of a tf.function, counted on its traced graph.

    Only operations the outputs and side effects depend on are counted (gradient
    outputs nobody uses are pruned before the graph runs), so forward and backward
    passes are counted as they run, R1's double backward included.
    """
    concrete = function.get_concrete_function(images, labels)
    graph = concrete.graph
    seen: set[str] = set()
    stack = [tensor.op for tensor in concrete.outputs] + list(graph.control_outputs)
    total = 0.0
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        total += op_flops(op)
        stack.extend(tensor.op for tensor in op.inputs)
        stack.extend(op.control_inputs)
    return total


def best_call_seconds(function: Callable[[], Any], rounds: int) -> float:
    """Best wall time of a compiled function over rounds, after one warm-up call;
    fetching its result waits for the work to finish."""
    function().numpy()
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        function().numpy()
        best = min(best, time.perf_counter() - started)
    return best


def matmul_rate(size: int = 4096, repeats: int = 5, rounds: int = 5) -> float:
    """Best float32 FLOP/s of size x size matmuls, compiled, one sync per round."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))

    @tf.function
    def products() -> tf.Tensor:
        total = tf.constant(0.0)
        for _ in range(repeats):
            total += tf.reduce_sum(tf.matmul(a + total * 0.0, b)[0])
        return total

    return repeats * 2.0 * size**3 / best_call_seconds(products, rounds)


def convolutions(gan: Any, batch: int) -> list[dict]:
    """Every convolution of G and D, at the batch size of the step."""
    from keras import layers

    found = []
    for model in (gan.generator, gan.discriminator):
        for layer in model.layers:
            if not hasattr(layer, "kernel") or len(layer.kernel.shape) != 4:
                continue
            strides = layer.strides
            found.append({
                "layer": f"{model.name}/{layer.name}",
                "transposed": isinstance(layer, layers.Conv2DTranspose),
                "input": (batch, *layer.input.shape[1:]),
                "output": (batch, *layer.output.shape[1:]),
                "kernel": tuple(layer.kernel.shape),
                "strides": strides if isinstance(strides, int) else strides[0],
                "padding": layer.padding.upper()})
    return found


def convolution_alone(conv: dict, rounds: int, repeats: int = 5) -> tuple[float, float]:
    """FLOPs and best seconds of one convolution's forward and both backward kernels,
    timed on its own."""
    import numpy as np
    import tensorflow as tf

    from crackgan.convolutions import strided_conv, strided_conv_transpose

    inputs = tf.random.normal(conv["input"])
    kernel = tf.random.normal(conv["kernel"])
    upstream = tf.random.normal(conv["output"])

    def forward(x: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
        if conv["transposed"]:
            return strided_conv_transpose(x, k, conv["strides"], conv["padding"])
        return strided_conv(x, k, conv["strides"], conv["padding"])

    @tf.function
    def forward_backward() -> tf.Tensor:
        total = tf.constant(0.0)
        for _ in range(repeats):
            with tf.GradientTape() as tape:
                tape.watch([inputs, kernel])
                outputs = forward(inputs + total * 0.0, kernel)
            grads = tape.gradient(outputs, [inputs, kernel], output_gradients=upstream)
            total += grads[0][0, 0, 0, 0] + grads[1][0, 0, 0, 0] + outputs[0, 0, 0, 0]
        return total

    seconds = best_call_seconds(forward_backward, rounds) / repeats
    pixels = conv["input"] if conv["transposed"] else conv["output"]
    flops = 2.0 * float(np.prod(pixels[:3])) * float(np.prod(conv["kernel"]))
    return 3.0 * flops, seconds


def numpy_matmul_rate(size: int = 4096, rounds: int = 3) -> float:
    """Best float32 FLOP/s of a NumPy (OpenBLAS) matmul, for comparison."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    a @ a
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        a @ a
        best = max(best, 2.0 * size**3 / (time.perf_counter() - started))
    return best


def step_inputs(args: argparse.Namespace) -> tuple[Any, Any]:
    """A fixed batch of images in [-1, 1] and their (unused) labels."""
    import tensorflow as tf

    images = tf.random.uniform((args.batch_size, args.resolution, args.resolution, 3),
                               -1.0, 1.0)
    return images, tf.zeros((args.batch_size,), tf.int32)


def build_step(args: argparse.Namespace,
               overrides: dict) -> tuple[Any, float, Callable[[int], float]]:
    """The Gan, FLOPs per step (R1 steps weighted by their share) and a function
    timing the compiled step, for one variant."""
    import tensorflow as tf

    from crackgan.config import TrainConfig
    from crackgan.gan import Gan

    config = TrainConfig(batch_size=args.batch_size, g_width=args.width,
                         d_width=args.width, **overrides)
    gan = Gan(config, args.resolution, 1, tf.distribute.get_strategy())
    functions = {False: gan.make_train_step(with_r1=False)}
    if config.d_reg == "r1":
        functions[True] = gan.make_train_step(with_r1=True)
    images, labels = step_inputs(args)

    def run(steps: int) -> float:
        started = time.perf_counter()
        for index in range(steps):
            with_r1 = config.d_reg == "r1" and index % config.r1_every == 0
            functions[with_r1](images, labels)["finite"].numpy()
        return time.perf_counter() - started

    flops = graph_flops(functions[False], images, labels)
    if True in functions:
        r1_flops = graph_flops(functions[True], images, labels)
        flops += (r1_flops - flops) / config.r1_every
    return gan, flops, run


def textbook_networks(resolution: int, width: int) -> tuple[Any, Any]:
    """A DCGAN written with stock Keras layers only (Keras batch norm, strided
    kernels), with crackgan's layer widths for the resolution."""
    import keras
    from keras import layers

    from crackgan.models import block_count, block_widths

    # Generator: dense to 4x4, batch norm and ReLU after every layer but the last.
    widths = list(reversed(block_widths(width, block_count(resolution))))
    latent = keras.Input((REFERENCE_LATENT,))
    x = layers.Dense(4 * 4 * widths[-1], use_bias=False)(latent)
    x = layers.Reshape((4, 4, widths[-1]))(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for channels in reversed(widths[:-1]):
        x = layers.Conv2DTranspose(channels, 4, 2, "same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    image = layers.Conv2DTranspose(3, 4, 2, "same", activation="tanh")(x)
    generator = keras.Model(latent, image)

    # Discriminator: batch norm after every convolution but the first, LeakyReLU.
    x = images = keras.Input((resolution, resolution, 3))
    for index, channels in enumerate(widths):
        x = layers.Conv2D(channels, 4, 2, "same", use_bias=index == 0)(x)
        x = layers.BatchNormalization()(x) if index else x
        x = layers.LeakyReLU(0.2)(x)
    logit = layers.Dense(1)(layers.Flatten()(x))
    return generator, keras.Model(images, logit)


def build_reference(args: argparse.Namespace) -> tuple[None, float,
                                                     Callable[[int], float]]:
    """The textbook step: Keras Adam, a D update on reals and a fresh fake batch,
    then a G update through D on another fake batch (G runs forward twice)."""
    import keras
    import tensorflow as tf

    generator, discriminator = textbook_networks(args.resolution, args.width)
    g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    d_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    loss = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def step(real: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        # labels only match the signature graph_flops traces with; they are unused.
        del labels
        batch = tf.shape(real)[0]

        # Discriminator update on reals and detached fakes.
        fakes = generator(tf.random.normal((batch, REFERENCE_LATENT)), training=True)
        with tf.GradientTape() as tape:
            real_logits = discriminator(real, training=True)
            fake_logits = discriminator(fakes, training=True)
            d_loss = (loss(tf.ones_like(real_logits), real_logits)
                      + loss(tf.zeros_like(fake_logits), fake_logits))
        d_vars = discriminator.trainable_variables
        d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))

        # Generator update through the updated discriminator.
        with tf.GradientTape() as tape:
            latents = tf.random.normal((batch, REFERENCE_LATENT))
            fake_logits = discriminator(generator(latents, training=True),
                                        training=True)
            g_loss = loss(tf.ones_like(fake_logits), fake_logits)
        g_vars = generator.trainable_variables
        g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
        return g_loss

    images, labels = step_inputs(args)

    def run(steps: int) -> float:
        started = time.perf_counter()
        for _ in range(steps):
            step(images, labels).numpy()
        return time.perf_counter() - started

    return None, graph_flops(step, images, labels), run


def parse_args() -> argparse.Namespace:
    """Flags of this benchmark."""
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

    # R1 runs on one step in r1_every; a round must hold whole cycles of them, or
    # its time and its averaged FLOP count would describe different mixes.
    from crackgan.config import TrainConfig

    every = TrainConfig().r1_every
    if args.steps < 1 or args.steps % every:
        parser.error(f"--steps: got {args.steps}; expected a positive multiple of "
                     f"{every}, R1's interval")
    return args


def time_variants(args: argparse.Namespace) -> tuple[Any, list[dict]]:
    """Build, warm and time every variant in interleaved rounds; the default
    variant's Gan and one result row per variant."""
    runners = {name: build_step(args, overrides)
               for name, overrides in VARIANTS.items()}
    runners[REFERENCE] = build_reference(args)

    # Warm up after every build: building reseeds TensorFlow, which forces a retrace.
    for _, _, run in runners.values():
        run(3)

    # Interleaved rounds, best kept: the machine may be shared.
    best = dict.fromkeys(runners, float("inf"))
    for round_index in range(args.rounds):
        for name, (_, _, run) in runners.items():
            best[name] = min(best[name], run(args.steps))
        LOG.info("round %d/%d done", round_index + 1, args.rounds)

    # One row per variant, relative to the plain step.
    plain_seconds = best[next(iter(VARIANTS))] / args.steps
    rows = []
    for name, (_, flops, _) in runners.items():
        seconds = best[name] / args.steps
        rows.append({"variant": name, "images_per_second": args.batch_size / seconds,
                     "seconds_per_step": seconds, "flops_per_step": flops,
                     "flops_per_second": flops / seconds,
                     "cost_vs_plain": seconds / plain_seconds - 1.0})
    return runners[DEFAULT_VARIANT][0], rows


def time_convolutions(gan: Any, args: argparse.Namespace,
                      peak: float) -> tuple[float, list[dict]]:
    """The FLOP rate of the Gan's convolutions timed alone, and one row per layer.

    One compiled function per shape, which TensorFlow would warn about as
    retracing, so its warnings are silenced.
    """
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    convs = convolutions(gan, args.batch_size)
    timings = [convolution_alone(conv, args.rounds) for conv in convs]
    rows = [dict(conv, flops=flops, seconds=seconds)
            for conv, (flops, seconds) in zip(convs, timings)]
    for row in rows:
        LOG.info("  %-40s %s -> %s: %6.1f ms, %3.0f%% of the matmul rate",
                 row["layer"], "x".join(map(str, row["input"][1:])),
                 "x".join(map(str, row["output"][1:])), 1000 * row["seconds"],
                 100 * row["flops"] / row["seconds"] / peak)
    rate = sum(row["flops"] for row in rows) / sum(row["seconds"] for row in rows)
    return rate, rows


def main() -> int:
    args = parse_args()
    setup_logging()
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    # The matmul rate before and after the steps, the faster one kept (the machine's
    # speed drifts); then the default variant's convolutions alone: the rate the step
    # would reach if it were nothing but these kernels.
    load = os.getloadavg()[0]
    peak_before = matmul_rate()
    gan, rows = time_variants(args)
    peak_after = matmul_rate()
    peak = max(peak_before, peak_after)
    for row in rows:
        row["share_of_matmul_rate"] = row["flops_per_second"] / peak
    kernel_rate, kernel_rows = time_convolutions(gan, args, peak)
    numpy_peak = numpy_matmul_rate()

    # Table and JSON.
    LOG.info("float32 matmul 4096x4096: TensorFlow %.1f GFLOP/s before the steps, "
             "%.1f after (the faster is the denominator), NumPy %.1f GFLOP/s; load "
             "average %.1f at start", peak_before / 1e9, peak_after / 1e9,
             numpy_peak / 1e9, load)
    LOG.info("%-42s %8s %10s %8s %9s", "variant", "img/s", "GFLOP/s", "matmul%",
             "vs plain")
    for row in rows:
        LOG.info("%-42s %8.1f %10.1f %7.0f%% %+8.0f%%", row["variant"],
                 row["images_per_second"], row["flops_per_second"] / 1e9,
                 100 * row["share_of_matmul_rate"], 100 * row["cost_vs_plain"])
    LOG.info("convolutions of %r timed alone (forward and both backward kernels, "
             "batch %d): %.1f GFLOP/s = %.0f%% of the matmul rate", DEFAULT_VARIANT,
             args.batch_size, kernel_rate / 1e9, 100 * kernel_rate / peak)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "settings": vars(args), "load_average_at_start": load,
        "matmul_flops_per_second": peak,
        "matmul_flops_per_second_before_after": [peak_before, peak_after],
        "numpy_matmul_flops_per_second": numpy_peak,
        "convolutions_alone_flops_per_second": kernel_rate,
        "convolutions_alone": kernel_rows, "rows": rows,
    }, indent=2) + "\n")
    LOG.info("results are in %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
