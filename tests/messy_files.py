"""Builds, with Pillow, the messy photo folder the preprocessing tests run on.

Every awkward case a user's photo folder can hold is written by code into a
temporary folder; `EXPECTED` says what data_preprocessing.py should do with each.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

# Corner colours of the asymmetric test image: each of the 8 EXIF orientations puts
# them in a different arrangement.
CORNER_COLOURS = np.array(
    [[230, 30, 30], [30, 200, 30], [30, 30, 230], [240, 240, 240]], dtype=np.uint8
)
# EXIF orientation -> the transform that turns the stored pixels upright (EXIF 2.3).
ORIENTATION_TRANSFORMS = {
    1: lambda array: array,
    2: np.fliplr,
    3: lambda array: np.rot90(array, 2),
    4: np.flipud,
    5: lambda array: np.transpose(array, (1, 0, 2)),
    6: lambda array: np.rot90(array, -1),
    7: lambda array: np.rot90(np.transpose(array, (1, 0, 2)), 2),
    8: lambda array: np.rot90(array, 1),
}
EXIF_ORIENTATION_TAG = 0x0112
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def photo_like(seed: int, width: int = 64, height: int = 48) -> np.ndarray:
    """Smooth random colour content, so every test photo has its own dHash."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(image)


def quadrant_image(width: int = 64, height: int = 48) -> np.ndarray:
    """An image whose four quadrants have the four CORNER_COLOURS."""
    array = np.empty((height, width, 3), dtype=np.uint8)
    half_h, half_w = height // 2, width // 2
    array[:half_h, :half_w] = CORNER_COLOURS[0]
    array[:half_h, half_w:] = CORNER_COLOURS[1]
    array[half_h:, :half_w] = CORNER_COLOURS[2]
    array[half_h:, half_w:] = CORNER_COLOURS[3]
    return array


def jpeg_with_orientation(stored: np.ndarray, orientation: int) -> bytes:
    """JPEG bytes of the stored pixels with an EXIF orientation tag."""
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = orientation
    buffer = io.BytesIO()
    Image.fromarray(stored).save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def encode(image: Image.Image, file_format: str, **options: object) -> bytes:
    """An image's bytes in the given format."""
    buffer = io.BytesIO()
    image.save(buffer, file_format, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk with its length and CRC."""
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def png_rgb16(array: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one), from uint16 H x W x 3."""
    height, width, _ = array.shape
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in array)
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (PNG_SIGNATURE + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a size but whose pixel data is garbage.

    Decoding it would fail, so a "too large" verdict proves the size was checked
    from the header before any decoding.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", b"not zlib data") + png_chunk(b"IEND", b""))


def gif_two_frames() -> bytes:
    """An animated GIF whose first frame is photo-like and whose second is flat blue."""
    first = Image.fromarray(photo_like(40)).convert("P", palette=Image.Palette.ADAPTIVE)
    second = Image.new("RGB", (64, 48), (0, 0, 255)).convert("P")
    return encode(first, "GIF", save_all=True, append_images=[second], duration=100)


def used_files() -> dict[str, bytes]:
    """Files that should be decoded and kept, by relative path."""
    rgba = np.dstack([photo_like(3), np.tile(np.linspace(0, 255, 64, dtype=np.uint8),
                                             (48, 1))])
    la_source = np.dstack([photo_like(4), rgba[..., 3]])
    grey16 = np.full((48, 64), 32768, dtype=np.uint16)
    grey16[:24, :32] = 65535
    grey16[24:, 32:] = 0
    palette = Image.fromarray(photo_like(5)).convert(
        "P", palette=Image.Palette.ADAPTIVE)
    files = {
        "cracked/cmyk.jpg": encode(Image.fromarray(photo_like(1)).convert("CMYK"),
                                   "JPEG"),
        "cracked/grey.jpg": encode(Image.fromarray(photo_like(2)).convert("L"), "JPEG"),
        "cracked/alpha.png": encode(Image.fromarray(rgba, "RGBA"), "PNG"),
        "cracked/la.png": encode(Image.fromarray(la_source, "RGBA").convert("LA"),
                                 "PNG"),
        "cracked/palette_transparent.png": encode(palette, "PNG", transparency=0),
        "cracked/grey16.png": encode(Image.fromarray(grey16), "PNG"),
        "cracked/rgb16.png": png_rgb16(photo_like(6).astype(np.uint16) * 257),
        "intact/photo.webp": encode(Image.fromarray(photo_like(7)), "WEBP"),
        "intact/photo.bmp": encode(Image.fromarray(photo_like(8)), "BMP"),
        "intact/photo.tiff": encode(Image.fromarray(photo_like(9)), "TIFF"),
        "intact/animated.gif": gif_two_frames(),
        "intact/png_named.jpg": encode(Image.fromarray(photo_like(10)), "PNG"),
        "intact/UPPER.JPG": encode(Image.fromarray(photo_like(11)), "JPEG"),
        "intact/Upper2.PNG": encode(Image.fromarray(photo_like(12)), "PNG"),
        "with space/ünïcødé 写真 1.png": encode(Image.fromarray(photo_like(13)),
                                               "PNG"),
        "brackets/[x] {y} %20 #1.jpg": encode(Image.fromarray(photo_like(14)), "JPEG"),
        "under/_underscore: colon.png": encode(Image.fromarray(photo_like(15)), "PNG"),
        "nested/deeper/deepest/leaf.png": encode(Image.fromarray(photo_like(16)),
                                                 "PNG"),
        "dups/a_original.png": encode(Image.fromarray(photo_like(17)), "PNG"),
        "near/original.png": encode(Image.fromarray(photo_like(18, 96, 72)), "PNG"),
        "near/resaved.jpg": encode(
            Image.fromarray(photo_like(18, 96, 72)).resize((80, 60)), "JPEG",
            quality=80),
    }
    for orientation in range(2, 9):
        stored = photo_like(20 + orientation)
        files[f"orientation/tag_{orientation}.jpg"] = jpeg_with_orientation(
            stored, orientation)
    return files


def skipped_files() -> dict[str, tuple[bytes, str]]:
    """Files that should be skipped, with the start of the expected reason."""
    whole = encode(Image.fromarray(photo_like(30, 128, 96)), "JPEG", quality=95)
    return {
        "broken/half.jpg": (whole[: len(whole) // 2], "truncated JPEG"),
        "broken/empty.jpg": (b"", "empty file"),
        "broken/text.jpg": (b"these are shopping notes, not a photo\n",
                            "not an image"),
        "broken/tiny.png": (encode(Image.fromarray(photo_like(31, 20, 30)), "PNG"),
                            "too small: 20x30 < --min-size 32"),
        "broken/huge_header.png": (png_header_only(3000, 2000),
                                   "too large: 3000x2000"),
    }


def ignored_files() -> dict[str, bytes]:
    """Files that should not even be listed: system, hidden and non-image files."""
    valid = encode(Image.fromarray(photo_like(35)), "PNG")
    return {
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
        "intact/Thumbs.db": b"\xd0\xcf\x11\xe0",
        "cracked/desktop.ini": b"[.ShellClassInfo]\n",
        "intact/.hidden.png": valid,
        ".hidden_folder/photo.png": valid,
        "notes.txt": b"shot on a phone\n",
    }


def build_messy_folder(root: Path) -> None:
    """Write every messy case under root; see EXPECTED for the outcome of each."""
    contents = dict(used_files())
    contents.update({path: data for path, (data, _) in skipped_files().items()})
    contents.update(ignored_files())
    contents["dups/b_copy.png"] = contents["dups/a_original.png"]
    for relative, data in contents.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# What the preprocessing run with --near-duplicates --max-pixels 1000000 should do.
EXPECTED_USED = sorted(set(used_files()) - {"near/resaved.jpg"})
EXPECTED_SKIPPED = {path: reason for path, (_, reason) in skipped_files().items()}
EXPECTED_DUPLICATES = ["dups/b_copy.png"]
EXPECTED_NEAR_DUPLICATES = {"near/resaved.jpg": "near/original.png"}
# Files inside hidden folders are not even visited, so they are not counted.
EXPECTED_IGNORED = sum(not path.startswith(".hidden_folder/")
                       for path in ignored_files())
