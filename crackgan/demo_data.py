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
from PIL import Image, ImageDraw, ImageFilter

from crackgan.config import ConfigError, require
from crackgan.fileio import atomic_write_bytes, replace_directory
from crackgan.logs import setup_logging

LOGGER = logging.getLogger("crackgan.demo_data")
DEFAULT_OUT = "outputs/demo-data"
MARKER_NAME = "PROCEDURAL.txt"
LABELS = ("cracked", "intact")
# Drawing happens at this multiple of the output size, then is downscaled, which
# antialiases thin cracks and rounded corners.
SUPERSAMPLE = 2
# Bump when the drawing changes, so an older set on disk is redrawn.
GENERATOR_VERSION = 1
# Cracks stop growing past this many paths on one screen (a fully shattered screen).
MAX_CRACK_PATHS = 400

BODY_COLOURS = (
    (18, 18, 20), (52, 54, 58), (198, 200, 204), (234, 233, 229), (212, 189, 150),
    (224, 182, 170), (38, 58, 104), (142, 26, 32), (44, 78, 60), (118, 100, 148),
)
Point = tuple[float, float]


@dataclasses.dataclass(frozen=True)
class DemoDataConfig:
    """Options of ``python -m crackgan.demo_data``."""

    # Folder the set is written to; never a folder of real photos (see check_output).
    out: str = DEFAULT_OUT
    # Images in total, split evenly between cracked/ and intact/ (cracked gets any odd one).
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
        require(32 <= self.size <= 1024, "size", self.size, "an integer from 32 to 1024")


@dataclasses.dataclass
class CrackPath:
    """One crack as a polyline with a base width (pixels) and brightness (0-255)."""

    points: list[Point]
    width: float
    brightness: int
    alpha: int


@dataclasses.dataclass(frozen=True)
class CrackStyle:
    """How a family of cracks grows: step length, wander, kinks, branching."""

    width: float
    brightness: int
    alpha: int
    step: float
    wander: float = 0.10
    kink_rate: float = 0.06
    branch_rate: float = 0.05
    max_depth: int = 3


class CrackField:
    """The cracks on one screen, with a coarse grid of which crack owns each cell.

    A growing crack that runs into a cell owned by another one usually stops there,
    as a real fracture stops at an existing one.
    """

    def __init__(self, width: int, height: int, cell: int) -> None:
        self.width, self.height, self.cell = width, height, cell
        self.owner = np.full((height // cell + 1, width // cell + 1), -1, np.int32)
        self.paths: list[CrackPath] = []
        self.chips: list[list[Point]] = []

    def inside(self, x: float, y: float) -> bool:
        return 0 <= x < self.width and 0 <= y < self.height

    def owner_at(self, x: float, y: float) -> int:
        return int(self.owner[int(y) // self.cell, int(x) // self.cell])

    def claim(self, x: float, y: float, path_id: int) -> None:
        self.owner[int(y) // self.cell, int(x) // self.cell] = path_id


def grow_crack(
    rng: np.random.Generator,
    field: CrackField,
    start: Point,
    angle: float,
    length: float,
    style: CrackStyle,
) -> None:
    """Grow one crack and its branches as random walks with small turns."""
    stack = [(start, angle, length, style.width, 0)]
    while stack and len(field.paths) < MAX_CRACK_PATHS:
        (x, y), angle, length, width, depth = stack.pop()
        path_id = len(field.paths)
        points, travelled, steps = [(x, y)], 0.0, 0
        while travelled < length:

            # Turn a little each step, and now and then sharply.
            angle += rng.normal(0.0, style.wander)
            if rng.random() < style.kink_rate:
                angle += rng.normal(0.0, 0.7)
            step = style.step * rng.uniform(0.6, 1.4)
            x, y = x + step * math.cos(angle), y + step * math.sin(angle)
            travelled += step
            steps += 1
            points.append((x, y))
            if not field.inside(x, y):
                break

            # Stop where another crack already runs, as glass fractures do.
            owner = field.owner_at(x, y)
            if owner not in (-1, path_id) and steps > 2 and rng.random() < 0.85:
                break
            field.claim(x, y, path_id)

            # Split off a thinner, shorter branch to one side.
            if depth < style.max_depth and rng.random() < style.branch_rate:
                side = 1.0 if rng.random() < 0.5 else -1.0
                stack.append(((x, y), angle + side * rng.uniform(0.35, 1.1),
                              (length - travelled) * rng.uniform(0.3, 0.8),
                              width * 0.7, depth + 1))
        brightness = int(min(255, max(90, style.brightness + rng.normal(0, 15))))
        alpha = int(min(255, max(40, style.alpha * rng.uniform(0.75, 1.1))))
        field.paths.append(CrackPath(points, width, brightness, alpha))


def add_impact(
    rng: np.random.Generator, field: CrackField, centre: Point, radius: float,
    density: float = 1.0,
) -> None:
    """An impact point: a crushed spot, radial cracks and jagged concentric rings."""
    unit = field.cell / 6.0
    radial_count = int(rng.integers(8, 18) * density)
    style = CrackStyle(width=2.6 * unit, brightness=225, alpha=235, step=6 * unit,
                       wander=0.08, branch_rate=0.07)

    # Grow the radial cracks first, each remembering its own points.
    first = len(field.paths)
    angles = np.sort(np.linspace(0, 2 * math.pi, radial_count, endpoint=False)
                     + rng.normal(0, 0.25, radial_count))
    for angle in angles:
        grow_crack(rng, field, centre, float(angle), radius * rng.uniform(0.6, 1.8), style)
    radials = [path for path in field.paths[first:] if path.points[0] == centre]

    # Join the radial cracks with rings at a few radii.
    ring_count = int(rng.integers(2, 5) + density - 1)
    for ring in range(ring_count):
        ring_radius = radius * (0.15 + 0.55 * (ring + rng.uniform(0.3, 1.0)) / ring_count)
        crossings = [point_at_radius(path.points, centre, ring_radius) for path in radials]
        add_ring(rng, field, crossings, width=1.6 * unit)

    # Crush the glass where it was hit.
    for _ in range(int(rng.integers(4, 9))):
        chip_angle = rng.uniform(0, 2 * math.pi)
        chip_radius = rng.uniform(2, 9) * unit
        field.chips.append(jagged_polygon(rng, centre, chip_radius, chip_angle))


def point_at_radius(points: list[Point], centre: Point, radius: float) -> Point | None:
    """The first point of a path at least radius away from centre, if any."""
    for x, y in points:
        if math.hypot(x - centre[0], y - centre[1]) >= radius:
            return (x, y)
    return None


def add_ring(
    rng: np.random.Generator, field: CrackField, crossings: list[Point | None],
    width: float,
) -> None:
    """Jagged arcs between consecutive crossings of radial cracks with a ring."""
    for start, end in zip(crossings, crossings[1:] + crossings[:1]):
        if start is None or end is None or rng.random() > 0.75:
            continue
        span = math.hypot(end[0] - start[0], end[1] - start[1])
        points = [start]
        for fraction in (0.25, 0.5, 0.75):
            points.append((start[0] + fraction * (end[0] - start[0])
                           + rng.normal(0, 0.06 * span),
                           start[1] + fraction * (end[1] - start[1])
                           + rng.normal(0, 0.06 * span)))
        points.append(end)
        field.paths.append(CrackPath(points, width, int(rng.integers(170, 235)),
                                     int(rng.integers(150, 230))))


def jagged_polygon(
    rng: np.random.Generator, centre: Point, radius: float, angle: float
) -> list[Point]:
    """A small irregular shard shape near centre."""
    offset = (centre[0] + radius * math.cos(angle), centre[1] + radius * math.sin(angle))
    corners = int(rng.integers(3, 6))
    return [(offset[0] + radius * rng.uniform(0.3, 0.8) * math.cos(a),
             offset[1] + radius * rng.uniform(0.3, 0.8) * math.sin(a))
            for a in np.sort(rng.uniform(0, 2 * math.pi, corners))]


def edge_start(rng: np.random.Generator, width: int, height: int) -> tuple[Point, float]:
    """A point on the screen's border and an angle pointing into the screen."""
    side = int(rng.integers(0, 4))
    if side == 0:
        point, inward = (rng.uniform(0, width), 0.0), math.pi / 2
    elif side == 1:
        point, inward = (rng.uniform(0, width), height - 1.0), -math.pi / 2
    elif side == 2:
        point, inward = (0.0, rng.uniform(0, height)), 0.0
    else:
        point, inward = (width - 1.0, rng.uniform(0, height)), math.pi
    return point, inward + rng.normal(0, 0.5)


def add_crack_pattern(rng: np.random.Generator, field: CrackField, kind: str) -> None:
    """Add one of the crack patterns seen on real screens to the field."""
    unit = field.cell / 6.0
    width, height = field.width, field.height
    if kind == "impact":
        centre = (rng.uniform(0.15, 0.85) * width, rng.uniform(0.1, 0.9) * height)
        add_impact(rng, field, centre, radius=rng.uniform(0.35, 0.9) * height)
    elif kind == "shattered":
        for _ in range(int(rng.integers(2, 4))):
            centre = (rng.uniform(0, 1) * width, rng.uniform(0, 1) * height)
            add_impact(rng, field, centre, radius=rng.uniform(0.3, 0.6) * height,
                       density=1.5)
    elif kind == "corner":
        corner_x = rng.uniform(0, 0.06) * width if rng.random() < 0.5 else \
            rng.uniform(0.94, 1.0) * width
        corner_y = rng.uniform(0, 0.04) * height if rng.random() < 0.5 else \
            rng.uniform(0.96, 1.0) * height
        add_impact(rng, field, (corner_x, corner_y), radius=rng.uniform(0.3, 0.6) * height,
                   density=2.0)
    elif kind == "edge":
        style = CrackStyle(width=2.2 * unit, brightness=215, alpha=225, step=7 * unit,
                           branch_rate=0.07)
        for _ in range(int(rng.integers(1, 4))):
            start, angle = edge_start(rng, width, height)
            grow_crack(rng, field, start, angle, rng.uniform(0.6, 1.6) * height, style)
    else:
        style = CrackStyle(width=1.3 * unit, brightness=210, alpha=150, step=8 * unit,
                           wander=0.05, kink_rate=0.03, branch_rate=0.015, max_depth=1)
        for _ in range(int(rng.integers(1, 4))):
            start, angle = edge_start(rng, width, height)
            grow_crack(rng, field, start, angle, rng.uniform(0.8, 1.8) * height, style)


def draw_cracks(screen: Image.Image, field: CrackField, rng: np.random.Generator) -> None:
    """Draw the field's cracks on the screen: bright lines, tapered, with dark edges."""
    overlay = Image.new("RGBA", screen.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for chip in field.chips:
        draw.polygon(chip, fill=(230, 232, 236, int(rng.integers(150, 230))))
    for path in field.paths:
        chunk = 4
        for start in range(0, len(path.points) - 1, chunk):
            piece = path.points[start : start + chunk + 1]
            taper = 1.0 - 0.55 * start / max(len(path.points), 1)
            width = max(1, round(path.width * taper * rng.uniform(0.8, 1.2)))
            alpha = int(min(255, max(30, path.alpha * rng.uniform(0.7, 1.15))))
            shade = int(min(255, max(80, path.brightness + rng.normal(0, 12))))
            if width > 1:
                shadow = [(x + 1.0, y + 1.0) for x, y in piece]
                draw.line(shadow, fill=(0, 0, 0, alpha // 3), width=width)
            draw.line(piece, fill=(shade, shade, min(255, shade + 6), alpha),
                      width=width, joint="curve")
    screen.alpha_composite(overlay)


def gradient(size: tuple[int, int], top: tuple[float, ...], bottom: tuple[float, ...],
             angle: float) -> np.ndarray:
    """A linear colour gradient at angle (radians) as float RGB.

    Drawn on a small grid and enlarged bilinearly, which is exact for a linear ramp
    and much faster than computing every pixel.
    """
    ys, xs = np.mgrid[0:16, 0:16].astype(np.float32) / 15.0
    along = xs * math.sin(angle) + ys * math.cos(angle)
    along = (along - along.min()) / max(float(np.ptp(along)), 1e-6)
    ramp = Image.fromarray(along.astype(np.float32), mode="F").resize(size, Image.BILINEAR)
    top_colour, bottom_colour = np.array(top, np.float32), np.array(bottom, np.float32)
    return top_colour + np.asarray(ramp)[..., None] * (bottom_colour - top_colour)


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise in 0-1 at size x size from a cells x cells random grid."""
    grid = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
    return np.asarray(grid.resize((size, size), Image.BICUBIC), np.float32) / 255.0


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A table, cloth, stone or studio backdrop as float RGB in 0-255."""
    kind = rng.choice(["gradient", "wood", "stone", "cloth", "plain"])
    grey = rng.uniform(60, 235)
    base = grey + (rng.uniform(0, 255, 3) - grey) * rng.uniform(0.05, 0.5)
    if kind == "wood":
        base = np.array([rng.uniform(110, 200), rng.uniform(70, 130), rng.uniform(35, 80)])
    angle = rng.uniform(0, math.pi)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if kind == "gradient":
        other = np.clip(base + rng.normal(0, 40, 3), 0, 255)
        image = gradient((size, size), tuple(base), tuple(other), angle)
    elif kind == "wood":
        along = xs * math.cos(angle) + ys * math.sin(angle)
        grain = np.sin(along * rng.uniform(60, 140) + smooth_noise(rng, size, 5) * 3)
        streaks = smooth_noise(rng, size, 48)
        image = base * (0.85 + 0.06 * grain[..., None] + 0.12 * streaks[..., None])
    elif kind == "stone":
        noise = smooth_noise(rng, size, 16) * 0.6 + smooth_noise(rng, size, 64) * 0.4
        image = base * (0.8 + 0.3 * noise[..., None])
    elif kind == "cloth":
        weave = np.sin(xs * size * 1.6) * np.sin(ys * size * 1.6)
        image = base * (0.9 + 0.05 * weave[..., None]
                        + 0.1 * smooth_noise(rng, size, 6)[..., None])
    else:
        image = base * (0.92 + 0.1 * smooth_noise(rng, size, 4)[..., None])
    return np.clip(image, 0, 255)


def screen_content(rng: np.random.Generator, size: tuple[int, int], lit: bool) -> Image.Image:
    """The glass as the camera sees it: dark when off, or a home screen when on."""
    width, height = size
    if not lit:
        tint = rng.uniform(0, 8, 3)
        top, bottom = tint + rng.uniform(2, 12), tint + rng.uniform(12, 40)
        image = gradient(size, tuple(top), tuple(bottom), rng.uniform(-0.6, 0.6))
        return Image.fromarray(image.astype(np.uint8)).convert("RGBA")

    # A wallpaper, a status bar and a grid of app icons.
    top, bottom = rng.uniform(20, 230, 3), rng.uniform(10, 200, 3)
    wallpaper = gradient(size, tuple(top), tuple(bottom), rng.uniform(-1, 1)) * 0.8
    screen = Image.fromarray(wallpaper.astype(np.uint8)).convert("RGBA")
    draw = ImageDraw.Draw(screen)
    icon = width / 6.5
    columns, rows = 4, int(rng.integers(3, 6))
    for row in range(rows):
        for column in range(columns):
            left = width * (0.09 + 0.23 * column)
            top_y = height * 0.12 + row * icon * 1.8
            colour = tuple(int(c) for c in rng.integers(40, 250, 3)) + (255,)
            draw.rounded_rectangle((left, top_y, left + icon, top_y + icon),
                                   radius=icon * 0.25, fill=colour)
    draw.rectangle((0, 0, width, height * 0.025), fill=(0, 0, 0, 90))
    return screen


def add_reflections(screen: Image.Image, rng: np.random.Generator) -> None:
    """A soft diagonal reflection band and, often, a reflected window or lamp."""
    width, height = screen.size
    overlay = Image.new("RGBA", screen.size, (255, 255, 255, 0))
    draw = ImageDraw.Draw(overlay)
    band_x, band_width = rng.uniform(-0.5, 1.0) * width, rng.uniform(0.2, 0.8) * width
    slant = rng.uniform(-0.8, 0.8) * height
    draw.polygon([(band_x, 0), (band_x + band_width, 0),
                  (band_x + band_width + slant, height), (band_x + slant, height)],
                 fill=(255, 255, 255, int(rng.integers(6, 30))))
    if rng.random() < 0.5:
        glare_x, glare_y = rng.uniform(0, width), rng.uniform(0, height)
        half_width = rng.uniform(0.05, 0.3) * width
        half_height = half_width * rng.uniform(0.3, 2.5)
        box = (glare_x - half_width, glare_y - half_height,
               glare_x + half_width, glare_y + half_height)
        fill = (255, 255, 255, int(rng.integers(15, 60)))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=fill)
        else:
            draw.rounded_rectangle(box, radius=half_width * 0.2, fill=fill)
    overlay = overlay.filter(ImageFilter.GaussianBlur(width * 0.03))
    screen.alpha_composite(overlay)


def add_intact_wear(screen: Image.Image, rng: np.random.Generator) -> None:
    """Dust specks and a faint smudge, so intact glass isn't perfectly clean."""
    width, height = screen.size
    overlay = Image.new("RGBA", screen.size, (255, 255, 255, 0))
    draw = ImageDraw.Draw(overlay)
    for _ in range(int(rng.integers(0, 12))):
        x, y, radius = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.5, 1.5)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius),
                     fill=(220, 220, 220, int(rng.integers(40, 140))))
    if rng.random() < 0.4:
        x, y, radius = rng.uniform(0, width), rng.uniform(0, height), width * 0.15
        draw.ellipse((x - radius, y - radius, x + radius, y + radius),
                     fill=(200, 200, 210, int(rng.integers(10, 30))))
    screen.alpha_composite(overlay.filter(ImageFilter.GaussianBlur(1)))


def draw_phone(rng: np.random.Generator, height: int, cracked: bool) -> Image.Image:
    """An upright phone front as RGBA: body, bezel, glass, reflections and cracks."""
    classic = rng.random() < 0.25
    width = int(height / (rng.uniform(1.75, 1.9) if classic else rng.uniform(1.95, 2.2)))
    body = BODY_COLOURS[int(rng.integers(0, len(BODY_COLOURS)))]
    phone = Image.new("RGBA", (width, height), body + (0,))
    draw = ImageDraw.Draw(phone)

    # Body with a lighter rim, then the bezel around the glass.
    radius = width * (0.09 if classic else rng.uniform(0.1, 0.16))
    rim = tuple(min(255, c + 35) for c in body) + (255,)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=radius, fill=rim)
    edge = max(2, width // 60)
    draw.rounded_rectangle((edge, edge, width - 1 - edge, height - 1 - edge),
                           radius=radius - edge, fill=body + (255,))
    bezel_colour = body if classic and sum(body) > 450 else (10, 10, 12)
    side = width * (0.06 if classic else rng.uniform(0.025, 0.05))
    top = height * (0.12 if classic else rng.uniform(0.025, 0.05))
    draw.rounded_rectangle((side * 0.6, side * 0.6, width - side * 0.6, height - side * 0.6),
                           radius=radius * 0.8, fill=bezel_colour + (255,))

    # Glass: content, reflections, then cracks or light wear.
    box = (int(side), int(top), int(width - side), int(height - top))
    size = (box[2] - box[0], box[3] - box[1])
    screen = screen_content(rng, size, lit=rng.random() < (0.2 if cracked else 0.35))
    add_reflections(screen, rng)
    if cracked:
        field = CrackField(size[0], size[1], cell=3 * SUPERSAMPLE)
        kinds = ["impact", "shattered", "corner", "edge", "hairline"]
        first = kinds[int(rng.choice(5, p=[0.3, 0.18, 0.2, 0.2, 0.12]))]
        add_crack_pattern(rng, field, first)
        if rng.random() < 0.45:
            second = kinds[int(rng.choice(5, p=[0.1, 0.0, 0.1, 0.4, 0.4]))]
            add_crack_pattern(rng, field, second)
        draw_cracks(screen, field, rng)
    else:
        add_intact_wear(screen, rng)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, size[0] - 1, size[1] - 1),
                                           radius=0 if classic else radius * 0.6, fill=255)
    phone.paste(screen, box[:2], mask)
    draw_furniture(draw, rng, width, height, top, classic)
    return phone


def draw_furniture(draw: ImageDraw.ImageDraw, rng: np.random.Generator, width: int,
                   height: int, top: float, classic: bool) -> None:
    """Speaker slot, front camera and, on classic phones, the home button."""
    slot_width, slot_height = width * 0.16, max(2.0, top * (0.12 if classic else 0.25))
    centre_x, slot_y = width / 2, top * 0.45
    draw.rounded_rectangle((centre_x - slot_width / 2, slot_y - slot_height / 2,
                            centre_x + slot_width / 2, slot_y + slot_height / 2),
                           radius=slot_height / 2, fill=(40, 40, 44, 255))
    camera = max(1.5, width * 0.018)
    camera_x = centre_x - slot_width if classic else centre_x + slot_width * 0.8
    draw.ellipse((camera_x - camera, slot_y - camera, camera_x + camera, slot_y + camera),
                 fill=(25, 28, 40, 255))
    if classic:
        button, button_y = width * 0.075, height - top / 2
        draw.ellipse((centre_x - button, button_y - button, centre_x + button,
                      button_y + button), outline=(120, 120, 124, 255),
                     width=max(1, int(width / 150)))


def perspective_coefficients(source: list[Point], target: list[Point]) -> list[float]:
    """Pillow PERSPECTIVE coefficients mapping target (output) points to source."""
    rows, values = [], []
    for (sx, sy), (tx, ty) in zip(source, target):
        rows.append([tx, ty, 1, 0, 0, 0, -sx * tx, -sx * ty])
        rows.append([0, 0, 0, tx, ty, 1, -sy * tx, -sy * ty])
        values.extend([sx, sy])
    return np.linalg.solve(np.array(rows, float), np.array(values, float)).tolist()


def place_phone(rng: np.random.Generator, phone: Image.Image, canvas: int) -> Image.Image:
    """Warp the upright phone onto the canvas: scale, rotation, a little perspective."""
    width, height = phone.size
    scale = canvas * rng.uniform(0.72, 1.0) / height
    if rng.random() < 0.12:
        angle = math.radians(rng.uniform(60, 120) * (1 if rng.random() < 0.5 else -1))
        scale *= 0.55
    elif rng.random() < 0.3:
        angle = math.radians(rng.uniform(-40, 40))
    else:
        angle = math.radians(float(np.clip(rng.normal(0, 6), -15, 15)))
    keystone_y, keystone_x = rng.uniform(-0.08, 0.08), rng.uniform(-0.05, 0.05)
    centre = canvas / 2 + rng.normal(0, 0.04 * canvas, 2)
    corners = [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)]
    target = []
    for unit_x, unit_y in corners:
        x = unit_x * width * scale * (1 + 2 * unit_y * keystone_y)
        y = unit_y * height * scale * (1 + 2 * unit_x * keystone_x)
        target.append((centre[0] + x * math.cos(angle) - y * math.sin(angle),
                       centre[1] + x * math.sin(angle) + y * math.cos(angle)))
    source = [(0, 0), (width, 0), (width, height), (0, height)]
    coefficients = perspective_coefficients(source, target)
    return phone.transform((canvas, canvas), Image.PERSPECTIVE, coefficients,
                           Image.BILINEAR)


def shift_down_right(array: np.ndarray, offset: int) -> np.ndarray:
    """array moved offset pixels down and right, zero-filled (no wrap-around)."""
    shifted = np.zeros_like(array)
    shifted[offset:, offset:] = array[: array.shape[0] - offset, : array.shape[1] - offset]
    return shifted


def render_demo_image(label: str, seed: int, index: int, size: int = 256) -> np.ndarray:
    """Draw procedural image index of a label as a size x size x 3 uint8 array."""
    if label not in LABELS:
        raise ValueError(f"label: got {label!r}, expected one of {LABELS}")
    rng = np.random.default_rng([seed, LABELS.index(label), index])
    canvas = size * SUPERSAMPLE

    # The phone is drawn and warped at the supersampled size, then reduced.
    scene = background(rng, size)
    phone = place_phone(rng, draw_phone(rng, canvas, cracked=label == "cracked"), canvas)
    phone = phone.resize((size, size), Image.BOX)

    # A soft shadow under the phone, then the phone itself.
    shadow = phone.getchannel("A").filter(ImageFilter.GaussianBlur(size * 0.02))
    shadow_array = shift_down_right(np.asarray(shadow, np.float32) / 255.0,
                                    int(rng.integers(1, max(2, size // 40))))
    scene *= 1.0 - rng.uniform(0.25, 0.55) * shadow_array[..., None]
    image = Image.fromarray(scene.astype(np.uint8)).convert("RGBA")
    image.alpha_composite(phone)

    # Light falloff across the frame and sensor noise.
    light = gradient((size, size), (1.08,) * 3, (rng.uniform(0.7, 0.95),) * 3,
                     rng.uniform(0, 2 * math.pi))
    lit = np.asarray(image.convert("RGB"), np.float32) * light
    noisy = lit + rng.uniform(1, 4) * rng.standard_normal((size, size, 3), np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def marker_text(config: DemoDataConfig) -> str:
    """The PROCEDURAL.txt text; equal text means the folder already holds this set."""
    per_label = label_counts(config.count)
    return (
        "PROCEDURAL DEMO IMAGES - drawings made by crackgan.demo_data, not photographs.\n"
        "Each phone, background and crack pattern was drawn with numpy and Pillow from\n"
        "a random seed. Use them to try the pipeline; do not report results on them as\n"
        "results on real phone photos.\n\n"
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
        LOGGER.info("%s already holds this procedural set (seed %d); nothing to draw",
                    out, config.seed)
        return label_counts(config.count)

    # Draw into a staging folder beside the output, then move it into place.
    staging = out.with_name(f".{out.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    for label in LABELS:
        (staging / label).mkdir(parents=True)
    counts = label_counts(config.count)
    LOGGER.info("Drawing %d procedural demo images (not photographs: %d cracked, "
                "%d intact, %dx%d) into %s", config.count, counts["cracked"],
                counts["intact"], config.size, config.size, out)
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
    LOGGER.info("Wrote %d procedural images in %.1f s (%.0f images/s) to %s",
                config.count, seconds, config.count / max(seconds, 1e-9), out)
    return counts


def parse_args(argv: list[str] | None) -> DemoDataConfig:
    """Parse flags into a DemoDataConfig."""
    defaults = DemoDataConfig()
    parser = argparse.ArgumentParser(
        prog="python -m crackgan.demo_data",
        description="Draw a seeded set of procedural (not photographed) phone-front "
        "images into OUT/cracked and OUT/intact, with a PROCEDURAL.txt marker.")
    parser.add_argument("--out", default=defaults.out,
                        help=f"output folder, replaced whole (default {defaults.out})")
    parser.add_argument("--count", type=int, default=defaults.count,
                        help="images in total, split evenly between the two labels "
                        f"(default {defaults.count})")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help=f"seed of the set (default {defaults.seed})")
    parser.add_argument("--size", type=int, default=defaults.size,
                        help=f"side of the square PNGs in pixels (default {defaults.size})")
    parser.add_argument("--force", action="store_true",
                        help="redraw even if OUT already holds this exact set")
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
