"""Crack patterns for the procedural demo images: how glass cracks grow and look.

Cracks are random walks with small turns that branch, and stop where they meet
another crack; impacts add radial cracks joined by rings. Used by crackgan.demo_data.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from PIL import Image, ImageDraw

# Cracks stop growing past this many paths on one screen (a fully shattered screen).
MAX_CRACK_PATHS = 400
# Kinds of crack pattern add_crack_pattern knows.
CRACK_KINDS = ("impact", "shattered", "corner", "edge", "hairline")
Point = tuple[float, float]


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
                stack.append(
                    (
                        (x, y),
                        angle + side * rng.uniform(0.35, 1.1),
                        (length - travelled) * rng.uniform(0.3, 0.8),
                        width * 0.7,
                        depth + 1,
                    )
                )
        brightness = int(min(255, max(90, style.brightness + rng.normal(0, 15))))
        alpha = int(min(255, max(40, style.alpha * rng.uniform(0.75, 1.1))))
        field.paths.append(CrackPath(points, width, brightness, alpha))


def add_impact(
    rng: np.random.Generator,
    field: CrackField,
    centre: Point,
    radius: float,
    density: float = 1.0,
) -> None:
    """An impact point: a crushed spot, radial cracks and jagged concentric rings."""
    unit = field.cell / 6.0
    radial_count = int(rng.integers(8, 18) * density)
    style = CrackStyle(
        width=2.6 * unit,
        brightness=225,
        alpha=235,
        step=6 * unit,
        wander=0.08,
        branch_rate=0.07,
    )

    # Grow the radial cracks first, each remembering its own points.
    first = len(field.paths)
    angles = np.sort(
        np.linspace(0, 2 * math.pi, radial_count, endpoint=False)
        + rng.normal(0, 0.25, radial_count)
    )
    for angle in angles:
        grow_crack(
            rng, field, centre, float(angle), radius * rng.uniform(0.6, 1.8), style
        )
    radials = [path for path in field.paths[first:] if path.points[0] == centre]

    # Join the radial cracks with rings at a few radii.
    ring_count = int(rng.integers(2, 5) + density - 1)
    for ring in range(ring_count):
        ring_radius = radius * (
            0.15 + 0.55 * (ring + rng.uniform(0.3, 1.0)) / ring_count
        )
        crossings = [
            point_at_radius(path.points, centre, ring_radius) for path in radials
        ]
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
    rng: np.random.Generator,
    field: CrackField,
    crossings: list[Point | None],
    width: float,
) -> None:
    """Jagged arcs between consecutive crossings of radial cracks with a ring."""
    for start, end in zip(crossings, crossings[1:] + crossings[:1]):
        if start is None or end is None or rng.random() > 0.75:
            continue
        span = math.hypot(end[0] - start[0], end[1] - start[1])
        points = [start]
        for fraction in (0.25, 0.5, 0.75):
            points.append(
                (
                    start[0]
                    + fraction * (end[0] - start[0])
                    + rng.normal(0, 0.06 * span),
                    start[1]
                    + fraction * (end[1] - start[1])
                    + rng.normal(0, 0.06 * span),
                )
            )
        points.append(end)
        field.paths.append(
            CrackPath(
                points, width, int(rng.integers(170, 235)), int(rng.integers(150, 230))
            )
        )


def jagged_polygon(
    rng: np.random.Generator, centre: Point, radius: float, angle: float
) -> list[Point]:
    """A small irregular shard shape near centre."""
    offset = (
        centre[0] + radius * math.cos(angle),
        centre[1] + radius * math.sin(angle),
    )
    corners = int(rng.integers(3, 6))
    return [
        (
            offset[0] + radius * rng.uniform(0.3, 0.8) * math.cos(a),
            offset[1] + radius * rng.uniform(0.3, 0.8) * math.sin(a),
        )
        for a in np.sort(rng.uniform(0, 2 * math.pi, corners))
    ]


def edge_start(
    rng: np.random.Generator, width: int, height: int
) -> tuple[Point, float]:
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
            add_impact(
                rng, field, centre, radius=rng.uniform(0.3, 0.6) * height, density=1.5
            )
    elif kind == "corner":
        corner_x = (
            rng.uniform(0, 0.06) * width
            if rng.random() < 0.5
            else rng.uniform(0.94, 1.0) * width
        )
        corner_y = (
            rng.uniform(0, 0.04) * height
            if rng.random() < 0.5
            else rng.uniform(0.96, 1.0) * height
        )
        add_impact(
            rng,
            field,
            (corner_x, corner_y),
            radius=rng.uniform(0.3, 0.6) * height,
            density=2.0,
        )
    elif kind == "edge":
        style = CrackStyle(
            width=2.2 * unit, brightness=215, alpha=225, step=7 * unit, branch_rate=0.07
        )
        for _ in range(int(rng.integers(1, 4))):
            start, angle = edge_start(rng, width, height)
            grow_crack(rng, field, start, angle, rng.uniform(0.6, 1.6) * height, style)
    else:
        style = CrackStyle(
            width=1.3 * unit,
            brightness=210,
            alpha=150,
            step=8 * unit,
            wander=0.05,
            kink_rate=0.03,
            branch_rate=0.015,
            max_depth=1,
        )
        for _ in range(int(rng.integers(1, 4))):
            start, angle = edge_start(rng, width, height)
            grow_crack(rng, field, start, angle, rng.uniform(0.8, 1.8) * height, style)


def draw_cracks(
    screen: Image.Image, field: CrackField, rng: np.random.Generator
) -> None:
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
            draw.line(
                piece,
                fill=(shade, shade, min(255, shade + 6), alpha),
                width=width,
                joint="curve",
            )
    screen.alpha_composite(overlay)
