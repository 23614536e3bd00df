"""Kernel Inception Distance: unbiased MMD^2 with a cubic polynomial kernel."""

from __future__ import annotations

import numpy as np

from crackgan.metrics.base import EvaluationInputs, Metric, MetricResult

SUBSETS = 100
MAX_SUBSET_SIZE = 1000


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x . y / d + 1)^3 for every pair of rows."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased estimate of MMD^2 between two equally sized sets of rows."""
    m = len(x)
    assert m == len(y) and m >= 2, "MMD^2 needs two sets of equal size >= 2"
    kernel_xx = polynomial_kernel(x, x)
    kernel_yy = polynomial_kernel(y, y)
    kernel_xy = polynomial_kernel(x, y)
    within = ((kernel_xx.sum() - np.trace(kernel_xx))
              + (kernel_yy.sum() - np.trace(kernel_yy))) / (m * (m - 1))
    return float(within - 2.0 * kernel_xy.mean())


def kernel_inception_distance(
    real: np.ndarray, generated: np.ndarray, rng: np.random.Generator,
    subsets: int = SUBSETS, max_subset_size: int = MAX_SUBSET_SIZE,
) -> tuple[float, float, int]:
    """Mean and std of MMD^2 over random subsets, and the subset size used."""
    size = min(max_subset_size, len(real), len(generated))
    values = [
        mmd2_unbiased(real[rng.choice(len(real), size, replace=False)],
                      generated[rng.choice(len(generated), size, replace=False)])
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values)), size


def compute(inputs: EvaluationInputs) -> MetricResult:
    """KID of real vs generated Inception features."""
    real = inputs.features("real")
    generated = inputs.features("generated")
    mean, std, size = kernel_inception_distance(real, generated, inputs.rng(2))
    return MetricResult(
        value=mean, spread=std, spread_kind=f"std over {SUBSETS} subsets of {size}",
        sample_sizes={"real": len(real), "generated": len(generated),
                      "subset": size},
        notes=["Unbiased, so it can be slightly negative when the sets match; "
               "x1000 is the usual way to quote it."],
        details={"value_x1000": mean * 1000, "spread_x1000": std * 1000})


METRIC = Metric(
    name="kid", question="realistic", compute=compute,
    meaning="Kernel MMD^2 between Inception features, unbiased at any size; 0 is best.")
