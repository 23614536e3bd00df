"""Classifier two-sample test: can a small CNN tell real from generated images?"""

from __future__ import annotations

import logging

import numpy as np

from crackgan import classifier
from crackgan.metrics.base import EvaluationInputs, Metric, MetricResult

LOGGER = logging.getLogger(__name__)
TEST_FRACTION = 0.3


def compute(inputs: EvaluationInputs) -> MetricResult:
    """Held-out real-vs-generated accuracy over several balanced splits."""
    real, generated = inputs.real, inputs.generated
    count = min(len(real), len(generated))
    rng = inputs.rng(5)
    accuracies = []
    for repeat in range(inputs.classifier_repeats):

        # Balance the classes, then split them in the same proportion.
        real_part = real[rng.choice(len(real), count, replace=False)]
        generated_part = generated[rng.choice(len(generated), count, replace=False)]
        images = np.concatenate([real_part, generated_part])
        labels = np.repeat([0, 1], count)
        train, test = classifier.stratified_split(labels, TEST_FRACTION, rng)
        accuracy = classifier.train_and_score(
            images[train], labels[train], images[test], labels[test], num_classes=2,
            steps=inputs.classifier_steps, seed=inputs.seed * 1000 + repeat)
        accuracies.append(accuracy)
        LOGGER.info("Two-sample test %d/%d: held-out accuracy %.3f", repeat + 1,
                    inputs.classifier_repeats, accuracy)
    test_size = len(test)
    return MetricResult(
        value=float(np.mean(accuracies)), spread=float(np.std(accuracies)),
        spread_kind=f"std over {len(accuracies)} random splits",
        sample_sizes={"real": count, "generated": count, "test": test_size},
        notes=[f"0.5 means the classifier can't tell them apart; with {test_size} "
               f"test images one split's accuracy has a standard error of about "
               f"{0.5 / np.sqrt(test_size):.2f}.",
               f"{inputs.classifier_steps} gradient steps per classifier."],
        details={"accuracies": accuracies})


METRIC = Metric(
    name="two_sample", question="realistic", compute=compute,
    meaning="Held-out accuracy of a CNN telling real from generated; 0.5 is best.")
