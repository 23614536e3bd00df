"""What every metric receives (the evaluation inputs) and returns (a MetricResult)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np

from crackgan.inception import FeaturesUnavailable, InceptionFeatures

LOGGER = logging.getLogger(__name__)


class MetricSkipped(RuntimeError):
    """A metric can't run on these inputs or on this install; the message says why."""


@dataclasses.dataclass
class EvaluationInputs:
    """The images a report is computed from, plus lazily computed Inception features.

    ``real`` holds the reference reals (the cache's images of ``label``, or every
    image); ``all_images``/``all_labels`` hold the whole cache for the downstream test.
    """

    real: np.ndarray
    generated: np.ndarray
    label: str | None
    generated_label: str | None
    all_images: np.ndarray
    all_labels: np.ndarray
    label_names: list[str]
    sources: list[str] | None
    out_dir: Path
    seed: int = 0
    classifier_steps: int = 300
    classifier_repeats: int = 5
    feature_batch_size: int = 50
    _extractor: InceptionFeatures | None = None
    _features: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def extractor(self) -> InceptionFeatures:
        """The Inception network, loaded on first use; MetricSkipped without it."""
        if self._extractor is None:
            try:
                self._extractor = InceptionFeatures(
                    self.feature_batch_size, cache_dir=self.out_dir / "features")
            except FeaturesUnavailable as error:
                raise MetricSkipped(
                    f"Inception features unavailable: {error}") from error
        return self._extractor

    def features(self, which: str) -> np.ndarray:
        """Inception features of the "real" or "generated" images, computed once."""
        if which not in self._features:
            images = {"real": self.real, "generated": self.generated}[which]
            self._features[which] = self.extractor()(images, name=which)
        return self._features[which]

    def rng(self, salt: int) -> np.random.Generator:
        """A generator seeded from the run seed and a per-metric salt."""
        return np.random.default_rng([self.seed, salt])


@dataclasses.dataclass
class MetricResult:
    """One metric's outcome as written to report.json."""

    value: float | None
    spread: float | None = None
    # What the spread is, e.g. "std over 100 subsets".
    spread_kind: str | None = None
    sample_sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    # Metric-specific numbers (per-level values, per-condition accuracies, ...).
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Figure files written into the report folder, by role.
    figures: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready form, with status "ok"."""
        return {"status": "ok", **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class Metric:
    """A named metric: what it means, which question it answers, how to compute it."""

    name: str
    # Which of the report's questions it answers: "realistic", "new" or "useful".
    question: str
    # One line for the report's table: what the number means and which way is better.
    meaning: str
    compute: Callable[[EvaluationInputs], MetricResult]


def skipped_json(reason: str) -> dict[str, Any]:
    """The report.json entry of a metric that did not run."""
    return {"status": "skipped", "reason": reason}
