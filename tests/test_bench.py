"""The training benchmark's FLOP counter matches a count by hand.

The share of the matmul rate that bench/train_throughput.py reports is only as good
as its FLOP count, so the count is checked here against the layer shapes, for the
textbook reference step and for crackgan's own step in both convolution forms.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from crackgan.config import TrainConfig
from crackgan.models import LATENT_DIM

BATCH = 2
WIDTH = 4
RESOLUTION = 64
# Image side at the small end of each stride-2 layer, from the 4x4 end outwards.
SIDES = (4, 8, 16, 32)


@pytest.fixture(scope="module")
def bench(repo_root: Path) -> ModuleType:
    path = repo_root / "bench" / "train_throughput.py"
    spec = importlib.util.spec_from_file_location("train_throughput", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args() -> argparse.Namespace:
    return argparse.Namespace(batch_size=BATCH, width=WIDTH, resolution=RESOLUTION)


def _layers(latent: int) -> dict[str, list[float]]:
    """Forward FLOPs (2 per multiply-add) of every layer with a kernel, at BATCH."""
    widths = [WIDTH * 8, WIDTH * 4, WIDTH * 2, WIDTH, 3]
    generator = [2.0 * BATCH * latent * 16 * widths[0]]
    generator += [2.0 * BATCH * side**2 * 16 * widths[k] * widths[k + 1]
                  for k, side in enumerate(SIDES)]
    discriminator = [2.0 * BATCH * side**2 * 16 * widths[k] * widths[k + 1]
                     for k, side in enumerate(SIDES)][::-1]
    discriminator.append(2.0 * BATCH * 16 * widths[0])
    return {"generator": generator, "discriminator": discriminator}


def test_reference_step_flops(bench: ModuleType) -> None:
    # G runs forward twice; its dense layer needs no input gradient. D runs forward
    # on reals, fakes and fakes again, takes kernel gradients on the first two and
    # input gradients on all three, except the image gradient the D update ignores.
    layers = _layers(bench.REFERENCE_LATENT)
    dense, *convs = layers["generator"]
    first, *rest = layers["discriminator"]
    expected = (dense * 3 + sum(convs) * 4 + first * 6 + sum(rest) * 8)

    _, flops, _ = bench.build_reference(_args())

    assert flops == pytest.approx(expected, rel=1e-9)


def _crackgan_step(d_reg: str) -> float:
    """FLOPs of crackgan's step by hand, averaged over R1's interval."""
    layers = _layers(LATENT_DIM)
    dense, *convs = layers["generator"]
    first, *rest = layers["discriminator"]

    # One G forward; D forward on reals and fakes with kernel gradients on both,
    # input gradients for the D loss on both (not down to the images) and for the G
    # loss on fakes (down to the images).
    flops = dense * 2 + sum(convs) * 3 + first * 5 + sum(rest) * 7
    if d_reg != "r1":
        return flops

    # The R1 step also takes D's input gradient on reals and differentiates it again
    # with respect to the kernels and to the upstream gradient: three more passes
    # over every D convolution and two over the logit layer, whose upstream is a
    # constant; on one step in r1_every.
    extra = 3 * (first + sum(rest[:-1])) + 2 * rest[-1]
    return flops + extra / TrainConfig().r1_every


@pytest.mark.parametrize("d_reg", ["none", "r1"])
@pytest.mark.parametrize("conv_forms", ["regrouped", "native"])
def test_crackgan_step_flops(bench: ModuleType, conv_forms: str, d_reg: str) -> None:
    overrides = dict(augment="none", ema=False, d_reg=d_reg, conv_forms=conv_forms)

    _, flops, _ = bench.build_step(_args(), overrides)

    assert flops == pytest.approx(_crackgan_step(d_reg), rel=1e-9)
