"""Near-copy check: are generated images closer to training images than new reals are?

The reals are split into folds. For each fold, its images are the held-out reals and
the other folds are the training reference. A held-out real's distance to its nearest
reference image shows how close a genuinely new image lands by chance; a generated
image closer than the 5th percentile of those distances counts as a near-copy.
"""

from __future__ import annotations

import logging

import numpy as np

from crackgan import plots
from crackgan.metrics.base import EvaluationInputs, Metric, MetricResult, MetricSkipped
from crackgan.metrics.precision_recall import pairwise_distances

LOGGER = logging.getLogger(__name__)
FOLDS = 4
QUANTILE = 0.05
# A memorisation-free generator has about QUANTILE near-copies; flag three times that,
# which leaves room for the noise of a threshold estimated from few held-out reals.
FLAG_FACTOR = 3.0
PAIRS_SHOWN = 8
# RMS pixel difference (of 255) below which two images count as the same photo.
PIXEL_COPY_TOLERANCE = 2.0


def nearest_distances(points: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Distance from each point to its nearest reference."""
    return pairwise_distances(points, references).min(axis=1)


def near_copy_test(
    real: np.ndarray, generated: np.ndarray, rng: np.random.Generator,
    folds: int = FOLDS, quantile: float = QUANTILE,
) -> dict:
    """Near-copy share of generated vectors against held-out folds of real vectors."""
    assert len(real) >= 2 * folds, f"need at least {2 * folds} reals"
    fold_of = rng.permutation(len(real)) % folds

    # Every real is held out once; generated images are measured against each fold's
    # training reference in turn.
    held_out = np.empty(len(real))
    generated_distances = np.empty((folds, len(generated)))
    for fold in range(folds):
        reference = real[fold_of != fold]
        held_out[fold_of == fold] = nearest_distances(real[fold_of == fold], reference)
        generated_distances[fold] = nearest_distances(generated, reference)

    # One threshold from all held-out distances; the share per fold gives a spread.
    threshold = float(np.quantile(held_out, quantile))
    shares = np.mean(generated_distances < threshold, axis=1)
    share = float(shares.mean())
    return {
        "share": share, "share_spread": float(shares.std()), "threshold": threshold,
        "flagged": share >= FLAG_FACTOR * quantile,
        "median_ratio": float(np.median(generated_distances) / np.median(held_out)),
        "held_out_share": float(np.mean(held_out < threshold)),
    }


def flat_pixels(images: np.ndarray) -> np.ndarray:
    """Images as rows of float pixels in [0, 255]."""
    return images.reshape(len(images), -1).astype(np.float64)


def standardised_pixels(images: np.ndarray) -> np.ndarray:
    """Rows of pixels with zero mean and unit length per image.

    Plain L2 distances favour smooth, low-contrast images (a blurry image is close
    to everything); removing each image's brightness and contrast keeps a blurry
    but new image from looking like a copy.
    """
    rows = flat_pixels(images)
    rows -= rows.mean(axis=1, keepdims=True)
    return rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-8)


def spaces(inputs: EvaluationInputs) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Standardised pixels always, plus Inception features when available."""
    vectors = {"pixels": (standardised_pixels(inputs.real),
                          standardised_pixels(inputs.generated))}
    try:
        vectors["inception"] = (inputs.features("real"), inputs.features("generated"))
    except MetricSkipped as reason:
        LOGGER.warning("Near-copy check in pixel space only: %s", reason)
    return vectors


def write_nearest_pairs(inputs: EvaluationInputs, distances: np.ndarray) -> str:
    """Write nearest.png: the closest generated/real pairs; returns the file name.

    Each real appears at most once, so a cluster of copies of one photo doesn't fill
    the figure.
    """
    nearest_real = distances.argmin(axis=1)
    closest: list[int] = []
    for generated_index in np.argsort(distances.min(axis=1)):
        if nearest_real[generated_index] not in nearest_real[closest]:
            closest.append(int(generated_index))
        if len(closest) == PAIRS_SHOWN:
            break
    captions = [f"gen {g} / real {nearest_real[g]}\nd={distances[g].min():.3g}"
                for g in closest]
    plots.save_image_pairs(inputs.generated[closest],
                           inputs.real[nearest_real[closest]],
                           inputs.out_dir / "nearest.png", captions,
                           title="Closest generated (left) / real (right) pairs")
    return "nearest.png"


def compute(inputs: EvaluationInputs) -> MetricResult:
    """Near-copy shares per space, exact pixel copies and the nearest-pairs figure."""
    if len(inputs.real) < 2 * FOLDS:
        raise MetricSkipped(f"needs at least {2 * FOLDS} real images")
    vectors = spaces(inputs)
    results = {name: near_copy_test(real, generated, inputs.rng(6))
               for name, (real, generated) in vectors.items()}

    # The space with more near-copies is the headline and the figure's.
    worst = max(results, key=lambda name: results[name]["share"])
    figure = write_nearest_pairs(inputs, pairwise_distances(*vectors[worst][::-1]))
    pixel_gap = nearest_distances(flat_pixels(inputs.generated),
                                  flat_pixels(inputs.real))
    pixel_copies = int(np.sum(pixel_gap / np.sqrt(inputs.real[0].size)
                              < PIXEL_COPY_TOLERANCE))
    flagged = any(result["flagged"] for result in results.values())
    notes = [
        f"A generated image is a near-copy when it is closer to a training real than "
        f"{QUANTILE:.0%} of held-out reals are; about {QUANTILE:.0%} is expected "
        f"without memorisation and {FLAG_FACTOR * QUANTILE:.0%} or more is flagged. "
        f"Checked in {' and '.join(results)} space; the value is the larger share "
        f"({worst}). Inception features miss blurred or noisy copies that pixels "
        "catch; pixels miss shifted or recoloured copies that features catch.",
        f"{pixel_copies} generated images are pixel copies of a real (RMS difference "
        f"under {PIXEL_COPY_TOLERANCE} of 255)."]
    if flagged:
        notes.insert(0, "FLAGGED: the generator reproduces training images.")
    return MetricResult(
        value=results[worst]["share"], spread=results[worst]["share_spread"],
        spread_kind=f"std over {FOLDS} folds of held-out reals",
        sample_sizes={"real": len(inputs.real), "generated": len(inputs.generated),
                      "folds": FOLDS},
        notes=notes, figures={"nearest": figure},
        details={"flagged": flagged, "worst_space": worst, "figure_space": worst,
                 "pixel_copies": pixel_copies, "spaces": results})


METRIC = Metric(
    name="memorisation", question="new", compute=compute,
    meaning="Share of generated images nearer a training real than 95% of held-out "
            "reals are; ~0.05 is expected, more means copying.")
