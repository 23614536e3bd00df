"""Procedural demo images of phone fronts, cracked and intact, drawn with Pillow.

They let ``make demo`` run the whole pipeline on a machine with no photos. They are
drawings, not photographs: file names, the PROCEDURAL.txt marker and log lines say so.
Run as ``python -m crackgan.demo_data --out DIR --count N --seed S``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from crackgan.config import ConfigError, require
from crackgan.demo_scene import (
    SUPERSAMPLE,
    background,
    draw_phone,
    gradient,
    place_phone,
    shift_down_right,
)
from crackgan.fileio import atomic_write_bytes, replace_directory
from crackgan.logs import setup_logging

LOGGER = logging.getLogger("crackgan.demo_data")
DEFAULT_OUT = "outputs/demo-data"
MARKER_NAME = "PROCEDURAL.txt"
LABELS = ("cracked", "intact")
# Bump when the drawing changes, so an older set on disk is redrawn.
GENERATOR_VERSION = 1


@dataclasses.dataclass(frozen=True)
class DemoDataConfig:
    """Options of ``python -m crackgan.demo_data``."""

    # Folder the set is written to; never a folder of real photos (see check_output).
    out: str = DEFAULT_OUT
    # Images in total, split evenly between cracked/ and intact/ (cracked gets the odd
    # one); 400 is enough for the demo's few minutes of training.
    count: int = 400
    # Seed of the set; image i of a label is the same whatever --count is.
    seed: int = 0
    # Side of the square PNGs in pixels.
    size: int = 256
    # Redraw even when the folder already holds this exact set.
    force: bool = False
    # Show debug messages.
    verbose: bool = False

    def __post_init__(self) -> None:
        require(self.count >= 2, "count", self.count, "an integer of at least 2")
        require(
            32 <= self.size <= 1024, "size", self.size, "an integer from 32 to 1024"
        )


def render_demo_image(label: str, seed: int, index: int, size: int = 256) -> np.ndarray:
    """Draw procedural image index of a label as a size x size x 3 uint8 array."""
    if label not in LABELS:
        raise ValueError(f"label: got {label!r}, expected one of {LABELS}")
    rng = np.random.default_rng([seed, LABELS.index(label), index])
    canvas = size * SUPERSAMPLE

    # The phone is drawn and warped at the supersampled size, then reduced.
    scene = background(rng, size)
    phone = place_phone(
        rng, draw_phone(rng, canvas, cracked=label == "cracked"), canvas
    )
    phone = phone.resize((size, size), Image.BOX)

    # A soft shadow under the phone, then the phone itself.
    shadow = phone.getchannel("A").filter(ImageFilter.GaussianBlur(size * 0.02))
    shadow_array = shift_down_right(
        np.asarray(shadow, np.float32) / 255.0, int(rng.integers(1, max(2, size // 40)))
    )
    scene *= 1.0 - rng.uniform(0.25, 0.55) * shadow_array[..., None]
    image = Image.fromarray(scene.astype(np.uint8)).convert("RGBA")
    image.alpha_composite(phone)

    # Light falloff across the frame and sensor noise.
    light = gradient(
        (size, size),
        (1.08,) * 3,
        (rng.uniform(0.7, 0.95),) * 3,
        rng.uniform(0, 2 * math.pi),
    )
    lit = np.asarray(image.convert("RGB"), np.float32) * light
    noisy = lit + rng.uniform(1, 4) * rng.standard_normal((size, size, 3), np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def marker_text(config: DemoDataConfig) -> str:
    """The PROCEDURAL.txt text; equal text means the folder already holds this set."""
    per_label = label_counts(config.count)
    return (
        "PROCEDURAL DEMO IMAGES - drawn by crackgan.demo_data, not photographs.\n"
        "Each phone, background and crack pattern was drawn with numpy and Pillow\n"
        "from a random seed. Use them to try the pipeline; do not report results on\n"
        "them as results on real phone photos.\n\n"
        f"generator_version: {GENERATOR_VERSION}\nseed: {config.seed}\n"
        f"size: {config.size}\ncracked: {per_label['cracked']}\n"
        f"intact: {per_label['intact']}\n"
    )


def label_counts(count: int) -> dict[str, int]:
    """Split count between the labels; cracked gets the odd image."""
    return {"cracked": (count + 1) // 2, "intact": count // 2}


def check_output(out: Path) -> None:
    """Refuse to replace a folder that isn't a procedural set (it may hold photos)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER_NAME).is_file():
        raise ConfigError(
            f"--out: {out} already holds files and no {MARKER_NAME}; it may hold real "
            "photos, so it is not replaced. Choose a new or empty folder."
        )


def write_demo_set(config: DemoDataConfig) -> dict[str, int]:
    """Write the procedural set to config.out; return images written per label."""
    out = Path(config.out)
    check_output(out)
    text = marker_text(config)
    marker = out / MARKER_NAME
    if not config.force and marker.is_file() and marker.read_text() == text:
        LOGGER.info(
            "%s already holds this procedural set (seed %d); nothing to draw",
            out,
            config.seed,
        )
        return label_counts(config.count)

    # Draw into a staging folder beside the output, then move it into place.
    staging = out.with_name(f".{out.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    for label in LABELS:
        (staging / label).mkdir(parents=True)
    counts = label_counts(config.count)
    LOGGER.info(
        "Drawing %d procedural demo images (not photographs: %d cracked, "
        "%d intact, %dx%d) into %s",
        config.count,
        counts["cracked"],
        counts["intact"],
        config.size,
        config.size,
        out,
    )
    started, done = time.monotonic(), 0
    for label, count in counts.items():
        for index in range(count):
            image = render_demo_image(label, config.seed, index, config.size)
            name = f"procedural_{label}_{index + 1:04d}.png"
            # Plain writes are enough here: the staging folder is moved in whole.
            Image.fromarray(image).save(staging / label / name, compress_level=4)
            done += 1
            if done % max(1, config.count // 10) == 0 or done == config.count:
                LOGGER.info("procedural images: %d/%d", done, config.count)
    atomic_write_bytes(staging / MARKER_NAME, text.encode("utf-8"))
    replace_directory(staging, out)
    seconds = time.monotonic() - started
    LOGGER.info(
        "Wrote %d procedural images in %.1f s (%.0f images/s) to %s",
        config.count,
        seconds,
        config.count / max(seconds, 1e-9),
        out,
    )
    return counts


def parse_args(argv: list[str] | None) -> DemoDataConfig:
    """Parse flags into a DemoDataConfig."""
    defaults = DemoDataConfig()
    parser = argparse.ArgumentParser(
        prog="python -m crackgan.demo_data",
        description="Draw a seeded set of procedural (not photographed) phone-front "
        "images into OUT/cracked and OUT/intact, with a PROCEDURAL.txt marker.",
    )
    parser.add_argument(
        "--out",
        default=defaults.out,
        help=f"output folder, replaced whole (default {defaults.out})",
    )
    parser.add_argument(
        "--count",
        type=int,
        default=defaults.count,
        help="images in total, split evenly between the two labels "
        f"(default {defaults.count})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help=f"seed of the set (default {defaults.seed})",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=defaults.size,
        help=f"side of the square PNGs in pixels (default {defaults.size})",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="redraw even if OUT already holds this exact set",
    )
    parser.add_argument("--verbose", action="store_true", help="show debug messages")
    namespace = parser.parse_args(argv)
    return DemoDataConfig(**vars(namespace))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    verbose = "--verbose" in (argv if argv is not None else sys.argv[1:])
    setup_logging(verbose)
    try:
        config = parse_args(argv)
        write_demo_set(config)
    except (ConfigError, ValueError) as error:
        LOGGER.error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
