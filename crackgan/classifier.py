"""The small Keras CNN used by the two-sample test and the downstream test, and splits.

Keras/TensorFlow are imported on first use, so importing this module is cheap.
"""

from __future__ import annotations

import math

import numpy as np

BATCH_SIZE = 32
LEARNING_RATE = 1e-3
# How far a grouped split's test side may exceed its target share of the images.
MAX_OVERSHOOT = 0.15


def build_classifier(resolution: int, num_classes: int):  # -> keras.Model
    """Three strided convolutions, global pooling and a softmax; ~25k weights."""
    import keras
    from keras import layers

    inputs = keras.Input((resolution, resolution, 3))
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    x = layers.RandomFlip("horizontal")(x)
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                  loss="sparse_categorical_crossentropy")
    return model


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """Weights that give every class present the same total weight."""
    counts = np.bincount(labels, minlength=num_classes)
    present = counts > 0
    return {int(c): (float(len(labels) / (present.sum() * counts[c])) if counts[c]
                     else 0.0) for c in range(num_classes)}


def train_and_score(
    train_images: np.ndarray, train_labels: np.ndarray,
    test_images: np.ndarray, test_labels: np.ndarray,
    num_classes: int, steps: int, seed: int,
) -> float:
    """Train a fresh classifier for about `steps` batches; test-set accuracy.

    Classes are weighted to count equally. Whole epochs are run, as many as it takes
    to reach `steps` gradient steps.
    """
    import keras

    # Fresh graph and seeds so every run is reproducible and memory doesn't grow.
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build_classifier(train_images.shape[1], num_classes)

    # Fit, then score with the most probable class.
    epochs = math.ceil(steps / math.ceil(len(train_images) / BATCH_SIZE))
    model.fit(train_images.astype(np.float32), train_labels, epochs=epochs,
              batch_size=BATCH_SIZE, shuffle=True, verbose=0,
              class_weight=balanced_class_weights(train_labels, num_classes))
    predictions = [np.argmax(np.asarray(model(batch, training=False)), axis=1)
                   for batch in np.array_split(test_images.astype(np.float32),
                                               max(1, len(test_images) // 256))]
    return float(np.mean(np.concatenate(predictions) == test_labels))


def stratified_split(
    labels: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with each label split in the same proportion."""
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        test_count = min(max(1, int(round(test_fraction * len(members)))),
                         len(members) - 1)
        test.extend(members[:test_count])
        train.extend(members[test_count:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(test, dtype=int))


def group_split(
    labels: np.ndarray, groups: list[str], test_fraction: float,
    rng: np.random.Generator, attempts: int = 200,
    used: set[frozenset[str]] | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Train and test indices with whole groups on one side, or None if impossible.

    Groups are offered to the test side in random order and taken while the test side
    stays under test_fraction + MAX_OVERSHOOT of the images, until it reaches
    test_fraction; a split counts only if both sides hold every label. Test-group sets
    in used are avoided while other valid ones turn up, and the chosen one is added.
    """
    group_array = np.asarray(groups)
    names, sizes = np.unique(group_array, return_counts=True)
    all_labels = set(np.unique(labels).tolist())
    limit = (test_fraction + MAX_OVERSHOOT) * len(labels)
    valid: list[frozenset[str]] = []
    for _ in range(attempts):
        test_groups: list[str] = []
        test_count = 0
        for index in rng.permutation(len(names)):
            if test_count >= test_fraction * len(labels):
                break
            if test_count + sizes[index] <= limit:
                test_groups.append(str(names[index]))
                test_count += int(sizes[index])
        is_test = np.isin(group_array, test_groups)
        if (set(labels[is_test].tolist()) == all_labels
                and set(labels[~is_test].tolist()) == all_labels):
            valid.append(frozenset(test_groups))
            if used is None or valid[-1] not in used:
                break
    if not valid:
        return None

    # The last valid split found is new unless every attempt repeated an old one.
    if used is not None:
        used.add(valid[-1])
    is_test = np.isin(group_array, list(valid[-1]))
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)
