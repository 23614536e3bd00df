"""Scenes for the procedural demo images: backdrops, phone bodies, glass, placement.

Everything is drawn with numpy and Pillow from a numpy Generator, so a seed fixes
the picture. Crack patterns come from crackgan.demo_cracks.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from crackgan.demo_cracks import (
    CRACK_KINDS,
    CrackField,
    Point,
    add_crack_pattern,
    draw_cracks,
)

# Drawing happens at this multiple of the output size, then is downscaled, which
# antialiases thin cracks and rounded corners.
SUPERSAMPLE = 2
BODY_COLOURS = (
    (18, 18, 20),
    (52, 54, 58),
    (198, 200, 204),
    (234, 233, 229),
    (212, 189, 150),
    (224, 182, 170),
    (38, 58, 104),
    (142, 26, 32),
    (44, 78, 60),
    (118, 100, 148),
)


def gradient(
    size: tuple[int, int],
    top: tuple[float, ...],
    bottom: tuple[float, ...],
    angle: float,
) -> np.ndarray:
    """A linear colour gradient at angle (radians) as float RGB.

    Drawn on a small grid and enlarged bilinearly, which is exact for a linear ramp
    and much faster than computing every pixel.
    """
    ys, xs = np.mgrid[0:16, 0:16].astype(np.float32) / 15.0
    along = xs * math.sin(angle) + ys * math.cos(angle)
    along = (along - along.min()) / max(float(np.ptp(along)), 1e-6)
    ramp = Image.fromarray(along.astype(np.float32), mode="F").resize(
        size, Image.BILINEAR
    )
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
        base = np.array(
            [rng.uniform(110, 200), rng.uniform(70, 130), rng.uniform(35, 80)]
        )
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
        image = base * (
            0.9 + 0.05 * weave[..., None] + 0.1 * smooth_noise(rng, size, 6)[..., None]
        )
    else:
        image = base * (0.92 + 0.1 * smooth_noise(rng, size, 4)[..., None])
    return np.clip(image, 0, 255)


def screen_content(
    rng: np.random.Generator, size: tuple[int, int], lit: bool
) -> Image.Image:
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
            draw.rounded_rectangle(
                (left, top_y, left + icon, top_y + icon),
                radius=icon * 0.25,
                fill=colour,
            )
    draw.rectangle((0, 0, width, height * 0.025), fill=(0, 0, 0, 90))
    return screen


def add_reflections(screen: Image.Image, rng: np.random.Generator) -> None:
    """A soft diagonal reflection band and, often, a reflected window or lamp."""
    width, height = screen.size
    overlay = Image.new("RGBA", screen.size, (255, 255, 255, 0))
    draw = ImageDraw.Draw(overlay)
    band_x, band_width = rng.uniform(-0.5, 1.0) * width, rng.uniform(0.2, 0.8) * width
    slant = rng.uniform(-0.8, 0.8) * height
    draw.polygon(
        [
            (band_x, 0),
            (band_x + band_width, 0),
            (band_x + band_width + slant, height),
            (band_x + slant, height),
        ],
        fill=(255, 255, 255, int(rng.integers(6, 30))),
    )
    if rng.random() < 0.5:
        glare_x, glare_y = rng.uniform(0, width), rng.uniform(0, height)
        half_width = rng.uniform(0.05, 0.3) * width
        half_height = half_width * rng.uniform(0.3, 2.5)
        box = (
            glare_x - half_width,
            glare_y - half_height,
            glare_x + half_width,
            glare_y + half_height,
        )
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
        x, y, radius = (
            rng.uniform(0, width),
            rng.uniform(0, height),
            rng.uniform(0.5, 1.5),
        )
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius),
            fill=(220, 220, 220, int(rng.integers(40, 140))),
        )
    if rng.random() < 0.4:
        x, y, radius = rng.uniform(0, width), rng.uniform(0, height), width * 0.15
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius),
            fill=(200, 200, 210, int(rng.integers(10, 30))),
        )
    screen.alpha_composite(overlay.filter(ImageFilter.GaussianBlur(1)))


def draw_phone(rng: np.random.Generator, height: int, cracked: bool) -> Image.Image:
    """An upright phone front as RGBA: body, bezel, glass, reflections and cracks."""
    classic = rng.random() < 0.25
    width = int(
        height / (rng.uniform(1.75, 1.9) if classic else rng.uniform(1.95, 2.2))
    )
    body = BODY_COLOURS[int(rng.integers(0, len(BODY_COLOURS)))]
    phone = Image.new("RGBA", (width, height), body + (0,))
    draw = ImageDraw.Draw(phone)

    # Body with a lighter rim, then the bezel around the glass.
    radius = width * (0.09 if classic else rng.uniform(0.1, 0.16))
    rim = tuple(min(255, c + 35) for c in body) + (255,)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=radius, fill=rim)
    edge = max(2, width // 60)
    draw.rounded_rectangle(
        (edge, edge, width - 1 - edge, height - 1 - edge),
        radius=radius - edge,
        fill=body + (255,),
    )
    bezel_colour = body if classic and sum(body) > 450 else (10, 10, 12)
    side = width * (0.06 if classic else rng.uniform(0.025, 0.05))
    top = height * (0.12 if classic else rng.uniform(0.025, 0.05))
    draw.rounded_rectangle(
        (side * 0.6, side * 0.6, width - side * 0.6, height - side * 0.6),
        radius=radius * 0.8,
        fill=bezel_colour + (255,),
    )

    # Glass: content, reflections, then cracks or light wear.
    box = (int(side), int(top), int(width - side), int(height - top))
    size = (box[2] - box[0], box[3] - box[1])
    screen = screen_content(rng, size, lit=rng.random() < (0.2 if cracked else 0.35))
    add_reflections(screen, rng)
    if cracked:
        field = CrackField(size[0], size[1], cell=3 * SUPERSAMPLE)
        first = CRACK_KINDS[int(rng.choice(5, p=[0.3, 0.18, 0.2, 0.2, 0.12]))]
        add_crack_pattern(rng, field, first)
        if rng.random() < 0.45:
            second = CRACK_KINDS[int(rng.choice(5, p=[0.1, 0.0, 0.1, 0.4, 0.4]))]
            add_crack_pattern(rng, field, second)
        draw_cracks(screen, field, rng)
    else:
        add_intact_wear(screen, rng)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, size[0] - 1, size[1] - 1),
        radius=0 if classic else radius * 0.6,
        fill=255,
    )
    phone.paste(screen, box[:2], mask)
    draw_furniture(draw, rng, width, height, top, classic)
    return phone


def draw_furniture(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    width: int,
    height: int,
    top: float,
    classic: bool,
) -> None:
    """Speaker slot, front camera and, on classic phones, the home button."""
    slot_width, slot_height = width * 0.16, max(2.0, top * (0.12 if classic else 0.25))
    centre_x, slot_y = width / 2, top * 0.45
    draw.rounded_rectangle(
        (
            centre_x - slot_width / 2,
            slot_y - slot_height / 2,
            centre_x + slot_width / 2,
            slot_y + slot_height / 2,
        ),
        radius=slot_height / 2,
        fill=(40, 40, 44, 255),
    )
    camera = max(1.5, width * 0.018)
    camera_x = centre_x - slot_width if classic else centre_x + slot_width * 0.8
    draw.ellipse(
        (camera_x - camera, slot_y - camera, camera_x + camera, slot_y + camera),
        fill=(25, 28, 40, 255),
    )
    if classic:
        button, button_y = width * 0.075, height - top / 2
        draw.ellipse(
            (
                centre_x - button,
                button_y - button,
                centre_x + button,
                button_y + button,
            ),
            outline=(120, 120, 124, 255),
            width=max(1, int(width / 150)),
        )


def perspective_coefficients(source: list[Point], target: list[Point]) -> list[float]:
    """Pillow PERSPECTIVE coefficients mapping target (output) points to source."""
    rows, values = [], []
    for (sx, sy), (tx, ty) in zip(source, target):
        rows.append([tx, ty, 1, 0, 0, 0, -sx * tx, -sx * ty])
        rows.append([0, 0, 0, tx, ty, 1, -sy * tx, -sy * ty])
        values.extend([sx, sy])
    return np.linalg.solve(np.array(rows, float), np.array(values, float)).tolist()


def place_phone(
    rng: np.random.Generator, phone: Image.Image, canvas: int
) -> Image.Image:
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
        target.append(
            (
                centre[0] + x * math.cos(angle) - y * math.sin(angle),
                centre[1] + x * math.sin(angle) + y * math.cos(angle),
            )
        )
    source = [(0, 0), (width, 0), (width, height), (0, height)]
    coefficients = perspective_coefficients(source, target)
    return phone.transform(
        (canvas, canvas), Image.PERSPECTIVE, coefficients, Image.BILINEAR
    )


def shift_down_right(array: np.ndarray, offset: int) -> np.ndarray:
    """array moved offset pixels down and right, zero-filled (no wrap-around)."""
    shifted = np.zeros_like(array)
    shifted[offset:, offset:] = array[
        : array.shape[0] - offset, : array.shape[1] - offset
    ]
    return shifted
