"""The metrics evaluate.py can compute, registered by name in report order."""

from __future__ import annotations

from crackgan.config import ConfigError
from crackgan.metrics import (
    downstream, fid, kid, memorisation, precision_recall, swd, two_sample)
from crackgan.metrics.base import (
    EvaluationInputs, Metric, MetricResult, MetricSkipped, skipped_json)

REGISTRY: dict[str, Metric] = {
    module.METRIC.name: module.METRIC
    for module in (fid, kid, precision_recall, swd, two_sample, memorisation,
                   downstream)
}

__all__ = ["REGISTRY", "EvaluationInputs", "Metric", "MetricResult", "MetricSkipped",
           "select_metrics", "skipped_json"]


def select_metrics(names: str | None) -> list[Metric]:
    """The metrics named in a comma-separated list (all when None or "all")."""
    if names is None or names.strip() == "all":
        return list(REGISTRY.values())
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    if not wanted:
        raise ConfigError(f"--metrics: got {names!r}, expected metric names from "
                          f"{', '.join(REGISTRY)} (or 'all', or no --metrics)")
    unknown = [name for name in wanted if name not in REGISTRY]
    if unknown:
        raise ConfigError(
            f"--metrics: unknown {', '.join(map(repr, unknown))}; valid names are "
            f"{', '.join(REGISTRY)} (or 'all')")
    return [metric for name, metric in REGISTRY.items() if name in wanted]
