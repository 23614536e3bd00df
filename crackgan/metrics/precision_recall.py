"""Improved precision and recall (Kynkäänniemi et al. 2019) on Inception features."""

from __future__ import annotations

import numpy as np

from crackgan.metrics.base import EvaluationInputs, Metric, MetricResult

NEIGHBOURS = 3
SUBSAMPLES = 10


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between every row of a and every row of b."""
    squared = (np.sum(a**2, axis=1)[:, None] + np.sum(b**2, axis=1)[None, :]
               - 2.0 * a @ b.T)
    return np.sqrt(np.maximum(squared, 0.0))


def knn_radii(features: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """Distance from each row to its k-th nearest other row."""
    distances = pairwise_distances(features, features)
    return np.partition(distances, k, axis=1)[:, k]


def coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Share of points inside at least one ball (centre, radius)."""
    inside = pairwise_distances(points, centres) <= radii[None, :] + 1e-9
    return float(np.mean(inside.any(axis=1)))


def precision_recall(
    real: np.ndarray, generated: np.ndarray, k: int = NEIGHBOURS
) -> tuple[float, float]:
    """Precision: generated inside the real manifold; recall: the reverse."""
    precision = coverage(generated, real, knn_radii(real, k))
    recall = coverage(real, generated, knn_radii(generated, k))
    return precision, recall


def compute(inputs: EvaluationInputs) -> MetricResult:
    """Precision and recall on equal-size sets, over several random subsamples."""
    real = inputs.features("real")
    generated = inputs.features("generated")
    count = min(len(real), len(generated))
    rng = inputs.rng(4)
    results = []
    for _ in range(SUBSAMPLES if max(len(real), len(generated)) > count else 1):
        real_part = real[rng.choice(len(real), count, replace=False)]
        generated_part = generated[rng.choice(len(generated), count, replace=False)]
        results.append(precision_recall(real_part, generated_part))
    precision, recall = np.mean(results, axis=0)
    precision_std, recall_std = np.std(results, axis=0)
    return MetricResult(
        value=float(precision), spread=float(precision_std),
        spread_kind=f"std over {len(results)} equal-size subsamples",
        sample_sizes={"real": count, "generated": count, "k": NEIGHBOURS},
        notes=["value is precision; recall is in details. Both sets are cut to the "
               "same size because recall grows with the generated set's size."],
        details={"precision": float(precision),
                 "precision_spread": float(precision_std),
                 "recall": float(recall), "recall_spread": float(recall_std)})


METRIC = Metric(
    name="precision_recall", question="realistic", compute=compute,
    meaning="Precision: share of generated images on the real manifold (k=3); recall: "
            "share of reals covered by generated ones; 1 is best.")
