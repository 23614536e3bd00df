"""Default decoding partitions: one per core until there is enough work for two."""

from crackgan.ingest import MIN_FILES_PER_PARTITION, default_partitions


def test_small_inputs_get_one_partition_per_core() -> None:
    assert default_partitions(2, 10) == 2
    assert default_partitions(2, 4 * MIN_FILES_PER_PARTITION - 1) == 2
    assert default_partitions(8, 200) == 8


def test_large_inputs_get_two_partitions_per_core() -> None:
    assert default_partitions(2, 4 * MIN_FILES_PER_PARTITION) == 4
    assert default_partitions(2, 100_000) == 4
