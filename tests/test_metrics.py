"""Unit tests of the metric functions on fixed random features and small image sets."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from crackgan import classifier
from crackgan.config import ConfigError
from crackgan.metrics import REGISTRY, select_metrics
from crackgan.metrics.fid import frechet_distance
from crackgan.metrics.kid import kernel_inception_distance, mmd2_unbiased
from crackgan.metrics.memorisation import near_copy_test
from crackgan.metrics.precision_recall import precision_recall
from crackgan.metrics.swd import laplacian_pyramid, multiscale_swd


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """FID the textbook way, with scipy's matrix square root."""
    covariance_a = np.cov(a, rowvar=False)
    covariance_b = np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(covariance_a @ covariance_b).real
    mean_gap = np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2)
    return float(mean_gap + np.trace(covariance_a + covariance_b - 2 * root))


def correlated_features(rng: np.random.Generator, count: int, dim: int,
                        shift: float = 0.0) -> np.ndarray:
    """Gaussian features with a random full-rank covariance."""
    mixing = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    return rng.standard_normal((count, dim)) @ mixing + shift


def test_fid_of_a_set_against_itself_is_zero() -> None:
    features = correlated_features(np.random.default_rng(0), 300, 64)
    assert abs(frechet_distance(features, features)) < 1e-9


@pytest.mark.parametrize("count_a, count_b", [(400, 250), (120, 90)])
def test_fid_matches_scipy_sqrtm(count_a: int, count_b: int) -> None:
    rng = np.random.default_rng(1)
    a = correlated_features(rng, count_a, 48)
    b = correlated_features(rng, count_b, 48, shift=0.3) * 1.5
    expected = reference_fid(a, b)
    assert expected > 1.0
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_fid_matches_sqrtm_with_fewer_samples_than_dimensions() -> None:
    rng = np.random.default_rng(2)
    a = correlated_features(rng, 40, 64)
    b = correlated_features(rng, 50, 64, shift=0.2)
    assert frechet_distance(a, b) == pytest.approx(reference_fid(a, b), rel=1e-4)


def test_kid_is_near_zero_for_two_halves_and_large_for_different_sets() -> None:
    rng = np.random.default_rng(3)
    features = rng.standard_normal((800, 64))
    same, same_std, size = kernel_inception_distance(
        features[:400], features[400:], rng, subsets=20, max_subset_size=200)
    different, _, _ = kernel_inception_distance(
        features[:400], rng.standard_normal((400, 64)) + 0.5, rng, subsets=20,
        max_subset_size=200)
    assert size == 200
    assert abs(same) < 3 * same_std
    assert different > 20 * same_std


def test_unbiased_mmd_matches_a_loop_over_pairs() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 3)) + 1
    kernel = lambda a, b: (a @ b / 3 + 1) ** 3
    m = len(x)
    within = sum(kernel(x[i], x[j]) + kernel(y[i], y[j])
                 for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    cross = sum(kernel(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    assert mmd2_unbiased(x, y) == pytest.approx(within - 2 * cross)


def noise_images(rng: np.random.Generator, count: int, size: int = 64) -> np.ndarray:
    return rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def test_laplacian_pyramid_levels_at_64() -> None:
    levels = laplacian_pyramid(noise_images(np.random.default_rng(5), 2))
    assert [level.shape[1] for level in levels] == [64, 32, 16]


def test_swd_is_zero_for_identical_sets_and_positive_for_different_ones() -> None:
    rng = np.random.default_rng(6)
    images = noise_images(rng, 12)
    smooth = np.repeat(np.repeat(noise_images(rng, 12, 16), 4, axis=1), 4, axis=2)
    same, _ = multiscale_swd(images, images.copy(), np.random.default_rng(0))
    different, _ = multiscale_swd(images, smooth, np.random.default_rng(0))
    assert same == [0.0, 0.0, 0.0]
    assert min(different) > 10.0


def test_precision_and_recall_of_a_set_against_itself_are_one() -> None:
    features = np.random.default_rng(7).standard_normal((100, 16))
    assert precision_recall(features, features.copy()) == (1.0, 1.0)


def test_precision_and_recall_of_far_apart_sets_are_zero() -> None:
    rng = np.random.default_rng(8)
    real = rng.standard_normal((100, 16))
    assert precision_recall(real, rng.standard_normal((100, 16)) + 50) == (0.0, 0.0)


def test_near_copy_check_flags_a_generator_that_returns_training_images() -> None:
    rng = np.random.default_rng(9)
    real = rng.standard_normal((120, 16))
    copies = real[rng.integers(0, len(real), 300)] + 1e-6 * rng.standard_normal(
        (300, 16))
    result = near_copy_test(real, copies, np.random.default_rng(0))
    assert result["flagged"]
    assert result["share"] > 0.6
    assert result["median_ratio"] < 0.01


def test_near_copy_check_does_not_flag_new_samples_of_the_same_distribution() -> None:
    rng = np.random.default_rng(10)
    real = rng.standard_normal((120, 16))
    held_out_reals = rng.standard_normal((300, 16))
    result = near_copy_test(real, held_out_reals, np.random.default_rng(0))
    assert not result["flagged"]
    assert result["share"] < 0.15
    assert 0.8 < result["median_ratio"] < 1.25


def test_group_split_keeps_each_source_on_one_side() -> None:
    labels = np.array([0, 1] * 30)
    groups = [f"source{i % 6}" for i in range(60)]
    train, test = classifier.group_split(labels, groups, 0.3, np.random.default_rng(0))
    train_groups = {groups[i] for i in train}
    test_groups = {groups[i] for i in test}
    assert not train_groups & test_groups
    assert len(train) + len(test) == 60
    assert set(labels[test]) == {0, 1}


def test_group_split_is_none_when_a_label_lives_in_one_source() -> None:
    labels = np.array([0] * 10 + [1] * 10)
    groups = ["a"] * 10 + ["b"] * 5 + ["c"] * 5
    assert classifier.group_split(labels, groups, 0.3, np.random.default_rng(0)) is None


def test_stratified_split_keeps_label_proportions() -> None:
    labels = np.array([0] * 40 + [1] * 20)
    train, test = classifier.stratified_split(labels, 0.25, np.random.default_rng(0))
    assert np.bincount(labels[test]).tolist() == [10, 5]
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(60))


def test_select_metrics_rejects_unknown_names_listing_valid_ones() -> None:
    assert [m.name for m in select_metrics("swd, kid")] == ["kid", "swd"]
    assert len(select_metrics("all")) == len(REGISTRY)
    with pytest.raises(ConfigError, match="--metrics.*'nope'.*fid, kid"):
        select_metrics("kid,nope")


@pytest.mark.parametrize("names", ["", " , "])
def test_select_metrics_rejects_an_empty_list(names: str) -> None:
    assert len(select_metrics(None)) == len(REGISTRY)
    with pytest.raises(ConfigError, match="--metrics: got .*expected metric names "
                                          "from fid, kid"):
        select_metrics(names)
