"""Fréchet Inception Distance between the real and generated Inception features."""

from __future__ import annotations

import numpy as np

from crackgan.metrics.base import EvaluationInputs, Metric, MetricResult

BOOTSTRAP_RESAMPLES = 20
# Below this many images per set FID is biased upwards (the covariance estimate of
# 2048 features has too few samples); the report says so.
UNBIASED_MIN_IMAGES = 2048


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two feature sets (rows are samples), each of at least 2 rows.

    ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr(sqrt(S_a S_b)). With centred data
    A and B, S_a S_b has the same non-zero eigenvalues as (A B^T)(A B^T)^T, so
    tr(sqrt(S_a S_b)) is the sum of the singular values of A B^T divided by
    sqrt((n_a - 1)(n_b - 1)): exact, real-valued, and cheap when n < 2048.
    """
    assert len(a) >= 2 and len(b) >= 2, "FID needs at least 2 samples per set"
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    centred_a = a - a.mean(axis=0)
    centred_b = b - b.mean(axis=0)

    # Traces of the two covariances and the trace of their geometric mean.
    trace_a = np.sum(centred_a**2) / (len(a) - 1)
    trace_b = np.sum(centred_b**2) / (len(b) - 1)
    singular_values = np.linalg.svd(centred_a @ centred_b.T, compute_uv=False)
    trace_sqrt = singular_values.sum() / np.sqrt((len(a) - 1) * (len(b) - 1))

    # Squared mean distance plus the covariance term.
    mean_term = np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2)
    return float(mean_term + trace_a + trace_b - 2.0 * trace_sqrt)


def compute(inputs: EvaluationInputs) -> MetricResult:
    """FID of all real vs all generated images, with a bootstrap spread."""
    real = inputs.features("real")
    generated = inputs.features("generated")
    value = frechet_distance(real, generated)

    # Spread: resample both sets with replacement.
    rng = inputs.rng(1)
    resampled = [
        frechet_distance(real[rng.integers(0, len(real), len(real))],
                         generated[rng.integers(0, len(generated), len(generated))])
        for _ in range(BOOTSTRAP_RESAMPLES)
    ]
    notes = []
    if min(len(real), len(generated)) < UNBIASED_MIN_IMAGES:
        notes.append(
            f"Biased: FID needs thousands of images per set; with "
            f"{min(len(real), len(generated))} images it is inflated by an amount "
            f"that depends on the sample size, so compare FIDs only at equal sizes.")
    return MetricResult(
        value=value, spread=float(np.std(resampled)),
        spread_kind=f"std over {BOOTSTRAP_RESAMPLES} bootstrap resamples",
        sample_sizes={"real": len(real), "generated": len(generated)}, notes=notes)


METRIC = Metric(
    name="fid", question="realistic", compute=compute,
    meaning="Fréchet distance between Inception feature Gaussians; 0 is best.")
