"""Downstream test: does adding generated images help a real cracked/intact classifier?

A small CNN is trained on (a) real images only, (b) real plus generated images and
(c) generated images only (reals for any label without a generator), and is always
tested on held-out real images. Splits keep whole photo sources on one side when the
cache's paths allow, so a classifier can't score by recognising where a photo came
from.
"""

from __future__ import annotations

import logging

import numpy as np

from crackgan import classifier, plots
from crackgan.metrics.base import EvaluationInputs, Metric, MetricResult, MetricSkipped

LOGGER = logging.getLogger(__name__)
TEST_FRACTION = 0.3
# Generated images added per split; caps training time on a CPU.
MAX_SYNTHETIC = 500
CONDITIONS = ("real", "real+synthetic", "synthetic")
MIN_GROUPS = 3


def make_split(inputs: EvaluationInputs, rng: np.random.Generator,
               used: set[frozenset[str]]):
    """Train/test indices into the cache and the kind of split used."""
    labels = inputs.all_labels
    if inputs.sources is not None and len(set(inputs.sources)) >= MIN_GROUPS:
        split = classifier.group_split(labels, inputs.sources, TEST_FRACTION, rng,
                                       used=used)
        if split is not None:
            return split, "grouped by source"
    return classifier.stratified_split(labels, TEST_FRACTION, rng), "stratified random"


def training_set(condition: str, inputs: EvaluationInputs, train: np.ndarray,
                 generated_index: int | None, rng: np.random.Generator):
    """Images and labels of one condition's training set."""
    images, labels = inputs.all_images[train], inputs.all_labels[train]
    if condition == "real" or generated_index is None:
        return images, labels
    count = min(len(inputs.generated), MAX_SYNTHETIC)
    chosen = rng.choice(len(inputs.generated), count, replace=False)
    synthetic = inputs.generated[chosen]
    synthetic_labels = np.full(count, generated_index, dtype=labels.dtype)
    if condition == "synthetic":
        keep = labels != generated_index
        images, labels = images[keep], labels[keep]
    return (np.concatenate([images, synthetic]),
            np.concatenate([labels, synthetic_labels]))


def run_repeats(inputs: EvaluationInputs, generated_index: int | None):
    """Accuracy per condition and repeat, majority baselines and the split kinds."""
    rng = inputs.rng(7)
    conditions = CONDITIONS if generated_index is not None else CONDITIONS[:1]
    accuracies: dict[str, list[float]] = {name: [] for name in conditions}
    baselines, kinds, test_sizes = [], set(), []
    used: set[frozenset[str]] = set()
    for repeat in range(inputs.classifier_repeats):
        (train, test), kind = make_split(inputs, rng, used)
        kinds.add(kind)
        test_labels = inputs.all_labels[test]
        baselines.append(np.bincount(test_labels).max() / len(test))
        test_sizes.append(len(test))
        for name in conditions:
            images, labels = training_set(name, inputs, train, generated_index, rng)
            accuracy = classifier.train_and_score(
                images, labels, inputs.all_images[test], test_labels,
                num_classes=len(inputs.label_names), steps=inputs.classifier_steps,
                seed=inputs.seed * 1000 + repeat)
            accuracies[name].append(accuracy)
            LOGGER.info("Downstream split %d/%d, %s: accuracy %.3f (%d train, %d test)",
                        repeat + 1, inputs.classifier_repeats, name, accuracy,
                        len(labels), len(test))
    return accuracies, float(np.mean(baselines)), sorted(kinds), test_sizes


def compute(inputs: EvaluationInputs) -> MetricResult:
    """Mean accuracy per condition; the value is the gain of (b) over (a)."""
    if len(np.unique(inputs.all_labels)) < 2:
        raise MetricSkipped("the cache holds a single label; nothing to classify")
    generated_index = (inputs.label_names.index(inputs.generated_label)
                       if inputs.generated_label in inputs.label_names else None)
    accuracies, baseline, kinds, test_sizes = run_repeats(inputs, generated_index)
    summary = {name: {"mean": float(np.mean(values)), "std": float(np.std(values)),
                      "accuracies": values} for name, values in accuracies.items()}
    plots.save_accuracy_bars(
        list(summary), [s["mean"] for s in summary.values()],
        [s["std"] for s in summary.values()], inputs.out_dir / "downstream.png",
        baseline=baseline, title="Cracked vs intact, tested on held-out real photos")

    # The headline number: paired gain of adding synthetic images.
    notes = [f"Split: {', '.join(kinds)}; test sets of {min(test_sizes)}-"
             f"{max(test_sizes)} real images; majority-class accuracy {baseline:.3f}.",
             "The generator was trained on every real image of its label, held-out "
             "ones included, so (b) and (c) may be slightly optimistic."]
    value = spread = None
    if generated_index is None:
        notes.append("No generated label matches the cache's labels, so only the "
                     "real-only classifier ran.")
    else:
        gains = np.subtract(accuracies["real+synthetic"], accuracies["real"])
        value, spread = float(gains.mean()), float(gains.std())
        notes.append(f"Synthetic images are all labelled {inputs.generated_label!r}; "
                     "other labels use their real training images in every condition.")
    return MetricResult(
        value=value, spread=spread,
        spread_kind=f"std over {inputs.classifier_repeats} splits",
        sample_sizes={"real": len(inputs.all_images),
                      "synthetic": min(len(inputs.generated), MAX_SYNTHETIC)},
        notes=notes, figures={"downstream": "downstream.png"},
        details={"conditions": summary, "majority_baseline": baseline,
                 "split": kinds, "test_sizes": test_sizes})


METRIC = Metric(
    name="downstream", question="useful", compute=compute,
    meaning="Accuracy gain on held-out real photos from adding generated images to a "
            "cracked/intact classifier's training set; > 0 helps.")
