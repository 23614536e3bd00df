"""Near-copy check: are generated images closer to training images than new reals are?

The reals are split into folds. For each fold, its images are the held-out reals and
the other folds are the training reference. A held-out real's distance to its nearest
reference image shows how close a genuinely new image lands by chance; a generated
image closer than the 5th percentile of those distances counts as a near-copy.
"""

from __future__ import annotations

import numpy as np

from crackgan import plots
from crackgan.metrics.base import EvaluationInputs, Metric, MetricResult, MetricSkipped
from crackgan.metrics.precision_recall import pairwise_distances

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


def feature_space(inputs: EvaluationInputs) -> tuple[str, np.ndarray, np.ndarray]:
    """Inception features when available, else pixels scaled to [0, 1]."""
    try:
        return "inception", inputs.features("real"), inputs.features("generated")
    except MetricSkipped:
        flat = lambda images: images.reshape(len(images), -1).astype(np.float64) / 255
        return "pixels", flat(inputs.real), flat(inputs.generated)


def write_nearest_pairs(inputs: EvaluationInputs, distances: np.ndarray) -> str:
    """Write nearest.png: the closest generated/real pairs; returns the file name."""
    nearest_real = distances.argmin(axis=1)
    closest = np.argsort(distances.min(axis=1))[:PAIRS_SHOWN]
    captions = [f"gen {g} / real {nearest_real[g]}\nd={distances[g].min():.3g}"
                for g in closest]
    plots.save_image_pairs(inputs.generated[closest],
                           inputs.real[nearest_real[closest]],
                           inputs.out_dir / "nearest.png", captions,
                           title="Closest generated (left) / real (right) pairs")
    return "nearest.png"


def compute(inputs: EvaluationInputs) -> MetricResult:
    """Near-copy share, exact pixel copies and the nearest-pairs figure."""
    if len(inputs.real) < 2 * FOLDS:
        raise MetricSkipped(f"needs at least {2 * FOLDS} real images")
    space, real, generated = feature_space(inputs)
    result = near_copy_test(real, generated, inputs.rng(6))

    # Exact copies in pixel space, against every reference real.
    pixel_gap = pairwise_distances(
        inputs.generated.reshape(len(generated), -1).astype(np.float64),
        inputs.real.reshape(len(real), -1).astype(np.float64),
    ).min(axis=1) / np.sqrt(inputs.real[0].size)
    pixel_copies = int(np.sum(pixel_gap < PIXEL_COPY_TOLERANCE))
    figure = write_nearest_pairs(inputs, pairwise_distances(generated, real))
    notes = [
        f"Distances in {space} space. A generated image is a near-copy when it is "
        f"closer to a training real than {QUANTILE:.0%} of held-out reals are "
        f"(threshold {result['threshold']:.4g}); about {QUANTILE:.0%} is expected "
        f"without memorisation, and {FLAG_FACTOR * QUANTILE:.0%} or more is flagged.",
        f"{pixel_copies} generated images are pixel copies of a real (RMS difference "
        f"under {PIXEL_COPY_TOLERANCE} of 255)."]
    if result["flagged"]:
        notes.insert(0, "FLAGGED: the generator reproduces training images.")
    return MetricResult(
        value=result["share"], spread=result["share_spread"],
        spread_kind=f"std over {FOLDS} folds of held-out reals",
        sample_sizes={"real": len(real), "generated": len(generated), "folds": FOLDS},
        notes=notes, figures={"nearest": figure},
        details={**result, "space": space, "pixel_copies": pixel_copies})


METRIC = Metric(
    name="memorisation", question="new", compute=compute,
    meaning="Share of generated images nearer a training real than 95% of held-out "
            "reals are; ~0.05 is expected, more means copying.")
