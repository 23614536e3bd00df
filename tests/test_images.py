"""Unit tests of crackgan.images: decoding, orientation, modes, crops, size guards."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from crackgan import images
from messy_files import (
    ORIENTATION_TRANSFORMS,
    encode,
    gif_two_frames,
    jpeg_with_orientation,
    photo_like,
    png_header_only,
    png_rgb16,
    quadrant_image,
)


def quadrant_means(pixels: np.ndarray) -> np.ndarray:
    """Mean colour of the inner half of each quadrant: TL, TR, BL, BR."""
    side = pixels.shape[0]
    half, quarter = side // 2, side // 4
    means = []
    for top in (0, half):
        for left in (0, half):
            block = pixels[top + quarter // 2 : top + half - quarter // 2,
                           left + quarter // 2 : left + half - quarter // 2]
            means.append(block.reshape(-1, 3).mean(axis=0))
    return np.array(means)


def decode_ok(data: bytes, resolution: int = 32, **options: object) -> np.ndarray:
    """Decode and insist it worked; return the pixels."""
    decoded = images.decode_image(data, resolution, **options)
    assert decoded.reason is None, decoded.reason
    assert decoded.pixels.shape == (resolution, resolution, 3)
    assert decoded.pixels.dtype == np.uint8
    return decoded.pixels


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    stored = quadrant_image(64, 48)
    upright = ORIENTATION_TRANSFORMS[orientation](stored)
    decoded = images.decode_image(jpeg_with_orientation(stored, orientation), 32)

    # The displayed size swaps for the transposing orientations 5 to 8.
    assert (decoded.height, decoded.width) == upright.shape[:2]

    # Each quadrant's colour lands where the EXIF transform puts it.
    side = min(upright.shape[:2])
    top, left = (upright.shape[0] - side) // 2, (upright.shape[1] - side) // 2
    expected = quadrant_means(upright[top : top + side, left : left + side])
    np.testing.assert_allclose(quadrant_means(decoded.pixels), expected, atol=12)


def test_orientations_give_distinct_results() -> None:
    stored = quadrant_image(64, 48)
    results = {orientation: quadrant_means(decode_ok(
        jpeg_with_orientation(stored, orientation))).round(-1).tobytes()
        for orientation in range(1, 9)}
    assert len(set(results.values())) == 8


def test_cmyk_jpeg_becomes_rgb_with_similar_colours() -> None:
    rgb = photo_like(1)
    pixels = decode_ok(encode(Image.fromarray(rgb).convert("CMYK"), "JPEG",
                              quality=95), resolution=32)
    expected = np.asarray(Image.fromarray(rgb[:, 8:56]).resize((32, 32)))
    assert np.abs(pixels.astype(int) - expected).mean() < 12


def test_grayscale_jpeg_becomes_three_equal_channels() -> None:
    pixels = decode_ok(encode(Image.fromarray(photo_like(2)).convert("L"), "JPEG"))
    assert np.array_equal(pixels[..., 0], pixels[..., 1])
    assert np.array_equal(pixels[..., 1], pixels[..., 2])


def test_transparent_areas_are_composited_on_the_background() -> None:
    rgba = np.zeros((48, 64, 4), dtype=np.uint8)
    rgba[..., :3] = (255, 255, 255)
    rgba[:, 32:, 3] = 255
    pixels = decode_ok(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(pixels[16, 2]) == images.BACKGROUND_RGB
    assert tuple(pixels[16, 29]) == (255, 255, 255)


def test_la_and_palette_transparency_use_the_background() -> None:
    la = Image.new("LA", (64, 48), (200, 0))
    la.paste((200, 255), (32, 0, 64, 48))
    pixels = decode_ok(encode(la, "PNG"))
    assert tuple(pixels[16, 2]) == images.BACKGROUND_RGB
    assert tuple(pixels[16, 29]) == (200, 200, 200)

    palette = Image.new("P", (64, 48), 0)
    palette.putpalette([10, 20, 30, 250, 100, 0] + [0] * 762)
    palette.paste(1, (32, 0, 64, 48))
    pixels = decode_ok(encode(palette, "PNG", transparency=0))
    assert tuple(pixels[16, 2]) == images.BACKGROUND_RGB
    assert tuple(pixels[16, 29]) == (250, 100, 0)


def test_16_bit_grey_png_is_scaled_not_clipped() -> None:
    grey16 = np.full((48, 64), 32768, dtype=np.uint16)
    pixels = decode_ok(encode(Image.fromarray(grey16), "PNG"))
    assert np.all(np.abs(pixels.astype(int) - 128) <= 1)


def test_16_bit_rgb_png_keeps_its_colours() -> None:
    colour = np.array([32768, 65535, 0], dtype=np.uint16)
    pixels = decode_ok(png_rgb16(np.tile(colour, (48, 64, 1))))
    assert np.all(np.abs(pixels.astype(int) - [128, 255, 0]) <= 1)


def test_scale_to_uint8_ranges() -> None:
    assert images.scale_to_uint8(np.array([0, 255])).tolist() == [0, 255]
    assert images.scale_to_uint8(np.array([0, 32768, 65535])).tolist() == [0, 128, 255]
    assert images.scale_to_uint8(np.array([0.0, 0.5, 1.0])).tolist() == [0, 128, 255]
    assert images.scale_to_uint8(np.array([-10, 0, 10])).tolist() == [0, 128, 255]


@pytest.mark.parametrize("mode", ["I", "F"])
def test_integer_and_float_modes(mode: str) -> None:
    values = np.full((48, 64), 40000 if mode == "I" else 0.5)
    image = Image.fromarray(values.astype(np.int32 if mode == "I" else np.float32))
    assert image.mode == mode
    pixels = np.asarray(images.fit_square(images.to_rgb(image), 32, "center"))
    expected = 156 if mode == "I" else 128
    assert np.all(np.abs(pixels.astype(int) - expected) <= 1)


@pytest.mark.parametrize("file_format", ["WEBP", "BMP", "TIFF", "PNG"])
def test_other_formats_decode(file_format: str) -> None:
    rgb = photo_like(7)
    options = {"lossless": True} if file_format == "WEBP" else {}
    pixels = decode_ok(encode(Image.fromarray(rgb), file_format, **options))
    expected = np.asarray(images.fit_square(Image.fromarray(rgb), 32, "center"))
    assert np.abs(pixels.astype(int) - expected).max() <= 2


def test_gif_uses_the_first_frame() -> None:
    pixels = decode_ok(gif_two_frames())
    first = np.asarray(images.fit_square(Image.fromarray(photo_like(40)), 32, "center"))
    assert np.abs(pixels.astype(int) - first).mean() < 10
    assert pixels[..., 2].mean() < 200


def test_format_is_sniffed_from_content() -> None:
    png = encode(Image.fromarray(photo_like(10)), "PNG")
    assert images.decode_image(png, 32).reason is None


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"plain text, not a photo", "not an image (unrecognised content)"),
])
def test_non_images_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    decoded = images.decode_image(data, 32)
    assert decoded.pixels is None
    assert decoded.reason == reason


def test_truncated_jpeg_is_rejected_not_half_decoded() -> None:
    whole = encode(Image.fromarray(photo_like(30, 128, 96)), "JPEG", quality=95)
    decoded = images.decode_image(whole[: len(whole) // 2], 32)
    assert decoded.pixels is None
    assert decoded.reason == "truncated JPEG"


def test_too_small_is_rejected() -> None:
    data = encode(Image.fromarray(photo_like(31, 20, 30)), "PNG")
    decoded = images.decode_image(data, 32, min_size=32)
    assert decoded.reason == "too small: 20x30 < --min-size 32"
    assert images.decode_image(data, 32, min_size=16).reason is None


def test_too_large_is_rejected_from_the_header_alone() -> None:
    # The pixel data is garbage, so only a header check can give "too large".
    data = png_header_only(3000, 2000)
    decoded = images.decode_image(data, 32, max_pixels=1_000_000)
    assert decoded.reason == (
        "too large: 3000x2000 = 6000000 pixels > --max-pixels 1000000")
    assert images.decode_image(data, 32, max_pixels=10**7).reason.startswith("corrupt")


def test_decompression_bomb_header_is_rejected() -> None:
    decoded = images.decode_image(png_header_only(100_000, 100_000), 32,
                                  max_pixels=10**12)
    assert decoded.reason.startswith("too large")


def test_center_crop_and_pad() -> None:
    wide = np.zeros((40, 80, 3), dtype=np.uint8)
    wide[:, 20:60] = 255
    centre = np.asarray(images.fit_square(Image.fromarray(wide), 32, "center"))
    assert centre.min() >= 240

    # Letterboxing keeps the whole photo: black bars above and below.
    padded = np.asarray(images.fit_square(Image.fromarray(wide), 32, "pad"))
    assert padded.shape == (32, 32, 3)
    assert padded[0].max() == 0 and padded[-1].max() == 0
    assert padded[16, 16].min() >= 250 and padded[16, 1].max() <= 5


def test_draft_decoding_of_large_jpeg_matches_full_decoding() -> None:
    big = Image.fromarray(photo_like(50, 1600, 1200))
    data = encode(big, "JPEG", quality=92)
    pixels = decode_ok(data, resolution=64)
    full = np.asarray(images.fit_square(Image.open(io.BytesIO(data)).convert("RGB"),
                                        64, "center"))
    assert np.abs(pixels.astype(int) - full).mean() < 3


def test_dhash_is_stable_under_resaving_and_differs_between_photos() -> None:
    original = decode_ok(encode(Image.fromarray(photo_like(18, 96, 72)), "PNG"))
    resaved = decode_ok(encode(Image.fromarray(photo_like(18, 96, 72)).resize((80, 60)),
                               "JPEG", quality=80))
    other = decode_ok(encode(Image.fromarray(photo_like(19, 96, 72)), "PNG"))
    assert images.hamming_distance(images.dhash(original), images.dhash(resaved)) <= 4
    assert images.hamming_distance(images.dhash(original), images.dhash(other)) > 12


def test_hamming_distance_handles_signed_hashes() -> None:
    assert images.hamming_distance(-1, 0) == 64
    assert images.hamming_distance(5, 4) == 1

