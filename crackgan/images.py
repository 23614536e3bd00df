"""Pure functions on one image: bytes -> square RGB uint8 array, and its dHash.

No Spark and no TensorFlow here, so every rule (format sniffing, EXIF orientation, mode
and bit-depth conversion, crop, resize, size guards) is unit-tested on its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# Transparent pixels are composited on black: the background-removed phone photos in
# the development set already sit on black, so this keeps them alike.
BACKGROUND_RGB = (0, 0, 0)
# JPEG draft decoding keeps at least this many times the target side, so the final
# LANCZOS resize still has real detail to average.
DRAFT_OVERSAMPLE = 2
# Reduce in integer steps first, then LANCZOS over the last factor of this many.
REDUCING_GAP = 3.0
EXIF_ORIENTATION_TAG = 0x0112
# A truncated file is an error, never a half-grey image.
assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@dataclasses.dataclass(frozen=True)
class DecodedImage:
    """The outcome of decoding one file: pixels, or the reason it was rejected."""

    # Square RGB uint8 array of side `resolution`; None when rejected.
    pixels: np.ndarray | None
    # Size of the photo as displayed (after EXIF orientation); 0 when unknown.
    width: int
    height: int
    # Why the file was rejected; None when pixels are present.
    reason: str | None


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of the file's bytes, used to find exact duplicates."""
    return hashlib.sha256(data).hexdigest()


def decode_image(
    data: bytes,
    resolution: int,
    crop: str = "center",
    min_size: int = 1,
    max_pixels: int = 150_000_000,
) -> DecodedImage:
    """Decode one file's bytes into a resolution x resolution RGB uint8 array.

    The format is sniffed from the content, not the file name. Every failure returns
    a DecodedImage whose reason says what was wrong; nothing is raised for bad data.
    """

    # Open reads only the header, so size checks happen before any decoding.
    if not data:
        return DecodedImage(None, 0, 0, "empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        return DecodedImage(None, 0, 0, "not an image (unrecognised content)")
    except Image.DecompressionBombError as error:
        return DecodedImage(None, 0, 0, f"too large: {error}")
    except (OSError, SyntaxError, ValueError) as error:
        return DecodedImage(None, 0, 0, f"unreadable header: {error}")
    width, height = image.size
    if width * height > max_pixels:
        return DecodedImage(None, width, height, f"too large: {width}x{height} = "
                            f"{width * height} pixels > --max-pixels {max_pixels}")
    if min(width, height) < min_size:
        return DecodedImage(None, width, height,
                            f"too small: {width}x{height} < --min-size {min_size}")

    # Decode (JPEGs at a reduced scale when the target is much smaller), then orient.
    file_format = image.format or "image"
    if image.format == "JPEG":
        side = resolution * DRAFT_OVERSAMPLE
        image.draft(None, (side, side))
    try:
        image.load()
        orientation = image.getexif().get(EXIF_ORIENTATION_TAG)
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        reason = describe_load_error(file_format, error)
        return DecodedImage(None, width, height, reason)
    if orientation in (5, 6, 7, 8):
        width, height = height, width

    # Bring any mode to 8-bit RGB, then to the square target.
    rgb = to_rgb(image)
    square = fit_square(rgb, resolution, crop)
    return DecodedImage(np.asarray(square, dtype=np.uint8), width, height, None)


def describe_load_error(file_format: str, error: BaseException) -> str:
    """A short reason for a decoding failure: truncated files get their own wording."""
    message = str(error)
    if "truncated" in message.lower() or isinstance(error, EOFError):
        return f"truncated {file_format}"
    return f"corrupt {file_format}: {message}"


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB.

    High-bit-depth greys are scaled to 8 bits (not clipped); CMYK, YCbCr, LAB and
    palettes use Pillow's conversions; transparent areas are composited on
    BACKGROUND_RGB.
    """
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(scale_to_uint8(np.asarray(image)), "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, BACKGROUND_RGB + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "RGB":
        return image
    return image.convert("RGB")


def scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Map a high-bit-depth grey array to uint8 by its value range.

    Values within 0..255 are kept; 0..65535 (16-bit) are divided by 257, so 65535
    maps to 255 and 32768 to 128; floats within 0..1 are multiplied by 255; any
    other range is stretched from its minimum to its maximum.
    """
    is_float = np.issubdtype(np.asarray(values).dtype, np.floating)
    values = np.asarray(values, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if is_float and low >= 0 and high <= 1:
        scaled = values * 255.0
    elif low >= 0 and high <= 255:
        scaled = values
    elif low >= 0 and high <= 65535:
        scaled = values / 257.0
    else:
        scaled = (values - low) * (255.0 / max(high - low, 1e-12))
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def fit_square(image: Image.Image, resolution: int, crop: str) -> Image.Image:
    """Centre-crop ("center") or letterbox ("pad") to a square, then resize."""
    width, height = image.size
    if crop == "center":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return image.resize((resolution, resolution), Image.Resampling.LANCZOS,
                            box=(left, top, left + side, top + side),
                            reducing_gap=REDUCING_GAP)
    if crop != "pad":
        raise ValueError(f"--crop: got {crop!r}, expected 'center' or 'pad'")

    # Scale the long side to the resolution and centre the photo on the background.
    scale = resolution / max(width, height)
    inner = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = image.resize(inner, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    canvas = Image.new("RGB", (resolution, resolution), BACKGROUND_RGB)
    canvas.paste(resized, ((resolution - inner[0]) // 2, (resolution - inner[1]) // 2))
    return canvas


def dhash(pixels: np.ndarray, hash_side: int = 8) -> int:
    """A 64-bit difference hash: is each pixel brighter than its right neighbour.

    Computed on a (hash_side + 1) x hash_side grey thumbnail, so re-encoded or
    slightly resized copies of a photo get hashes a few bits apart. Returned as a
    signed 64-bit integer so it fits an Arrow int64 column.
    """
    grey = Image.fromarray(np.asarray(pixels, dtype=np.uint8)).convert("L")
    small = np.asarray(
        grey.resize((hash_side + 1, hash_side), Image.Resampling.LANCZOS),
        dtype=np.int16,
    )
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming_distance(first: int, second: int) -> int:
    """Number of differing bits between two 64-bit hashes (signed or not)."""
    return bin((first ^ second) & ((1 << 64) - 1)).count("1")
