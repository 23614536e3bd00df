"""Tests of the preprocessing job: listing, fingerprints, dedupe, the script run on a
messy code-built folder and on the real photos, and a rebuild killed half way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from crackgan import cache, images, ingest
from crackgan.config import ConfigError, PreprocessConfig
from messy_files import (
    EXPECTED_DUPLICATES,
    EXPECTED_IGNORED,
    EXPECTED_NEAR_DUPLICATES,
    EXPECTED_SKIPPED,
    EXPECTED_USED,
    build_messy_folder,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_script(repo_root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run data_preprocessing.py with this interpreter; capture its log."""
    return subprocess.run(
        [sys.executable, str(repo_root / "data_preprocessing.py"), *args],
        cwd=repo_root, capture_output=True, text=True, timeout=600)


def check_cache_consistency(cache_dir: Path) -> dict:
    """The contract's invariants between manifest, arrays and Parquet; the manifest."""
    manifest = json.loads((cache_dir / "manifest.json").read_text())
    stack = np.load(cache_dir / "images.npy")
    labels = np.load(cache_dir / "labels.npy")
    side = manifest["resolution"]
    assert stack.shape == (manifest["count"], side, side, 3) and stack.dtype == np.uint8
    assert labels.shape == (manifest["count"],) and labels.dtype == np.int64
    assert manifest["label_names"] == sorted(manifest["labels"])
    counts = np.bincount(labels, minlength=len(manifest["label_names"]))
    assert dict(zip(manifest["label_names"], counts.tolist())) == manifest["labels"]
    assert (cache_dir / "reals.png").read_bytes()[:8] == PNG_SIGNATURE

    # Parquet rows are numbered in path order and hold the same pixels as the array.
    table = pq.read_table(cache_dir / "images.parquet").sort_by("row").to_pylist()
    assert [row["row"] for row in table] == list(range(manifest["count"]))
    assert [row["path"] for row in table] == sorted(row["path"] for row in table)
    for row in table:
        pixels = np.frombuffer(row["pixels"], dtype=np.uint8).reshape(side, side, 3)
        assert np.array_equal(pixels, stack[row["row"]])
        assert manifest["label_names"][labels[row["row"]]] == row["label"]
    return manifest


def test_listing_ignores_hidden_system_and_non_image_files(tmp_path: Path) -> None:
    build_messy_folder(tmp_path)
    listing = ingest.list_inputs(tmp_path)
    relatives = [item.relative for item in listing.files]
    assert relatives == sorted(EXPECTED_USED + list(EXPECTED_SKIPPED)
                               + EXPECTED_DUPLICATES + list(EXPECTED_NEAR_DUPLICATES))
    assert listing.ignored_count == EXPECTED_IGNORED
    assert "intact/UPPER.JPG" in relatives


def test_fingerprint_changes_with_inputs_and_options(tmp_path: Path) -> None:
    build_messy_folder(tmp_path)
    options = ingest.fingerprint_options(PreprocessConfig(input=str(tmp_path)))
    first = cache.fingerprint(ingest.list_inputs(tmp_path).files, tmp_path, options)
    assert cache.fingerprint(ingest.list_inputs(tmp_path).files, tmp_path,
                             options) == first

    # A touched photo, an added one, a removed one and a changed option all count.
    touched = tmp_path / "intact/photo.bmp"
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = cache.fingerprint(ingest.list_inputs(tmp_path).files, tmp_path, options)
    added = (tmp_path / "near/original.png").read_bytes()
    (tmp_path / "intact/new.png").write_bytes(added)
    third = cache.fingerprint(ingest.list_inputs(tmp_path).files, tmp_path, options)
    (tmp_path / "intact/photo.webp").unlink()
    fourth = cache.fingerprint(ingest.list_inputs(tmp_path).files, tmp_path, options)
    other_options = ingest.fingerprint_options(PreprocessConfig(crop="pad"))
    fifth = cache.fingerprint(ingest.list_inputs(tmp_path).files, tmp_path,
                              other_options)
    assert len({first, second, third, fourth, fifth}) == 5


def test_binary_file_paths_become_relative_paths(tmp_path: Path) -> None:
    # Spark 4 gives the path unescaped after "file:"; "%" and "#" are literal.
    root = str(tmp_path)
    literal = f"file:{root}/with space/ünï 写 %20 #1.png"
    assert ingest.relative_from_uri(literal, root) == "with space/ünï 写 %20 #1.png"
    assert ingest.relative_from_uri(f"file://{root}/a.jpg", root) == "a.jpg"

    # A percent-encoded URI is decoded when only the decoded file exists.
    (tmp_path / "a b.jpg").write_bytes(b"x")
    assert ingest.relative_from_uri(f"file:{root}/a%20b.jpg", root) == "a b.jpg"


def test_decode_batches_keeps_64_bit_hashes_beside_failures(tmp_path: Path) -> None:
    import pandas as pd

    build_messy_folder(tmp_path)
    names = ["near/original.png", "broken/text.jpg", "intact/photo.bmp"]
    frame = pd.DataFrame({
        "path": [f"file:{tmp_path / name}" for name in names],
        "content": [(tmp_path / names[0]).read_bytes(), None, None]})
    (table,) = ingest.decode_batches(iter([frame]), str(tmp_path), 32, "center", 32,
                                     10**8)
    assert table["path"].tolist() == names
    assert table["label"].tolist() == ["near", "broken", "intact"]
    assert table["reason"].tolist()[1] == "not an image (unrecognised content)"
    assert str(table["dhash"].dtype) == "Int64"
    for index in (0, 2):
        pixels = images.decode_image((tmp_path / names[index]).read_bytes(), 32).pixels
        assert table["dhash"][index] == images.dhash(pixels)
        assert table["pixels"][index] == pixels.tobytes()
    assert pd.isna(table["dhash"][1]) and table["pixels"][1] is None


def test_select_images_drops_failures_and_duplicates() -> None:
    records = [
        {"path": "b.jpg", "sha256": "s1", "dhash": 0b1111, "reason": None},
        {"path": "a.jpg", "sha256": "s1", "dhash": 0b1111, "reason": None},
        {"path": "c.jpg", "sha256": "s2", "dhash": 0b1110, "reason": None},
        {"path": "d.jpg", "sha256": "s3", "dhash": -1, "reason": None},
        {"path": "e.jpg", "sha256": "s4", "dhash": None, "reason": "empty file"},
    ]
    plain = ingest.select_images(records, near_duplicates=False, near_distance=6)
    assert [record["path"] for record in plain.used] == ["a.jpg", "c.jpg", "d.jpg"]
    assert plain.duplicate_paths == ["b.jpg"]
    assert plain.skipped == [{"path": "e.jpg", "reason": "empty file"}]

    near = ingest.select_images(records, near_duplicates=True, near_distance=1)
    assert [record["path"] for record in near.used] == ["a.jpg", "d.jpg"]
    assert near.near_duplicates == [
        {"path": "c.jpg", "near_duplicate_of": "a.jpg", "distance": 1}]


def test_pack_by_size_balances_bytes_and_keeps_every_file_once() -> None:
    sizes = [900, 500, 400, 300, 300, 200, 100, 100]
    files = [cache.InputFile(f"{index}.jpg", size, 0)
             for index, size in enumerate(sizes)]
    groups = ingest.pack_by_size(files, 3)
    assert sorted(item.relative for group in groups for item in group) == sorted(
        item.relative for item in files)
    totals = sorted(sum(item.size_bytes for item in group) for group in groups)
    assert totals == [900, 900, 1000]

    # Never an empty group, even with more groups than files.
    assert [len(group) for group in ingest.pack_by_size(files[:2], 4)] == [1, 1]


def test_missing_input_folder_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--input: folder .*nowhere.* does not exist"):
        ingest.run(PreprocessConfig(input=str(tmp_path / "nowhere"),
                                    output=str(tmp_path / "cache")))


def test_output_inside_input_is_refused(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    with pytest.raises(ConfigError, match="--output: .* is inside --input"):
        ingest.run(PreprocessConfig(input=str(tmp_path / "photos"),
                                    output=str(tmp_path / "photos" / "cache")))


def test_output_containing_input_is_refused_and_photos_kept(tmp_path: Path) -> None:
    photos = tmp_path / "outer" / "photos"
    photos.mkdir(parents=True)
    (photos / "a.jpg").write_bytes(b"jpeg")
    with pytest.raises(ConfigError, match="--output: .*outer contains --input"):
        ingest.run(PreprocessConfig(input=str(photos), output=str(tmp_path / "outer")))
    assert (photos / "a.jpg").read_bytes() == b"jpeg"


def test_output_that_is_a_file_or_foreign_folder_is_refused(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="--output: .*notes.txt is a file, expected "
                       "a folder"):
        ingest.run(PreprocessConfig(input=str(photos),
                                    output=str(tmp_path / "notes.txt")))
    (tmp_path / "work" / "keep.txt").parent.mkdir()
    (tmp_path / "work" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="--output: .*work exists and is not a "
                       "crackgan cache \\(no manifest.json\\)"):
        ingest.run(PreprocessConfig(input=str(photos), output=str(tmp_path / "work")))
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "work" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("master", ["local", "local[3]", "local[*]", "local[2,4]",
                                    "spark://a:7077,b.example:7077", "yarn",
                                    "k8s://https://127.0.0.1:6443"])
def test_master_url_forms_are_accepted(master: str) -> None:
    assert PreprocessConfig(master=master).master == master


@pytest.mark.parametrize("master", ["foo", "local[0]", "local[x]", "spark://host",
                                    "spark://", " yarn", "mesos://h:5050"])
def test_bad_master_url_names_the_flag(master: str) -> None:
    with pytest.raises(ConfigError, match="--master: got .* expected local, "):
        PreprocessConfig(master=master)


def test_script_refuses_bad_master_and_output_around_input(
        repo_root: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"jpeg")
    bad_master = run_script(repo_root, "--input", str(photos), "--output",
                            str(tmp_path / "cache"), "--master", "foo")
    around = run_script(repo_root, "--input", str(photos), "--output", str(tmp_path))
    assert bad_master.returncode == 2 and "--master: got 'foo'" in bad_master.stderr
    assert around.returncode == 2 and "contains --input" in around.stderr
    assert "Traceback" not in bad_master.stderr + around.stderr
    assert (photos / "a.jpg").read_bytes() == b"jpeg"


def test_spark_start_failure_becomes_a_master_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pyspark.errors import PySparkRuntimeError

    def fail(config: PreprocessConfig, work_dir: Path) -> None:
        raise PySparkRuntimeError(errorClass="JAVA_GATEWAY_EXITED",
                                  messageParameters={})

    monkeypatch.setattr(ingest, "start_spark", fail)
    with pytest.raises(ConfigError, match="--master yarn: could not start Spark: "
                       ".*JAVA_GATEWAY_EXITED"):
        with ingest.spark_session(PreprocessConfig(master="yarn")):
            pass


def test_all_skipped_message_counts_found_files_and_reasons() -> None:
    manifest = {"inputs_seen": 3, "skipped": [
        {"path": "a.jpg", "reason": "too small: 8x8 < --min-size 32"},
        {"path": "b.jpg", "reason": "too small: 9x9 < --min-size 32"},
        {"path": "c.jpg", "reason": "truncated JPEG"}]}
    message = ingest.all_skipped_message(Path("/photos"), manifest)
    assert message.startswith("--input: 3 image files found in /photos, all skipped "
                              "(too small: 2, truncated JPEG: 1)")
    assert "--min-size" in message and "no usable image" not in message


def test_abandoned_staging_folders_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / ".cache.staging-999999999"
    alive = tmp_path / f".cache.staging-{os.getppid()}"
    dead.mkdir()
    alive.mkdir()
    ingest.remove_abandoned_staging(tmp_path / "cache")
    assert not dead.exists() and alive.exists()


def test_folder_without_images_exits_2_without_starting_spark(
        repo_root: Path, tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "notes.txt").write_text("no photos here")
    result = run_script(repo_root, "--input", str(tmp_path / "photos"),
                        "--output", str(tmp_path / "cache"))
    assert result.returncode == 2
    assert "no usable image in" in result.stderr and "jpg, jpeg, png" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_folder_of_broken_files_exits_2(repo_root: Path, tmp_path: Path) -> None:
    (tmp_path / "photos" / "x").mkdir(parents=True)
    (tmp_path / "photos" / "x" / "a.jpg").write_text("not a photo")
    (tmp_path / "photos" / "x" / "b.png").write_bytes(b"")
    result = run_script(repo_root, "--input", str(tmp_path / "photos"),
                        "--output", str(tmp_path / "cache"), "--resolution", "32")
    assert result.returncode == 2, result.stderr
    assert (f"2 image files found in {tmp_path / 'photos'}, all skipped"
            in result.stderr), result.stderr
    assert not (tmp_path / "cache").exists()
    assert not list(tmp_path.glob(".cache.staging-*"))


@pytest.mark.slow
def test_messy_folder(repo_root: Path, tmp_path: Path) -> None:
    photos, cache_dir = tmp_path / "photos", tmp_path / "cache"
    build_messy_folder(photos)
    before = sorted(path for path in photos.rglob("*"))
    result = run_script(repo_root, "--input", str(photos), "--output", str(cache_dir),
                        "--resolution", "32", "--near-duplicates",
                        "--max-pixels", "1000000")
    assert result.returncode == 0, result.stderr
    manifest = check_cache_consistency(cache_dir)

    # Every file got the verdict the messy folder was built to provoke.
    assert manifest["inputs_seen"] == len(EXPECTED_USED) + len(EXPECTED_SKIPPED) + 2
    table = pq.read_table(cache_dir / "images.parquet").sort_by("row")
    assert table.column("path").to_pylist() == EXPECTED_USED
    skipped = {item["path"]: item["reason"] for item in manifest["skipped"]}
    assert skipped.keys() == EXPECTED_SKIPPED.keys()
    for path, reason in EXPECTED_SKIPPED.items():
        assert skipped[path].startswith(reason), (path, skipped[path])
    assert manifest["duplicates"] == 1
    assert manifest["duplicate_paths"] == EXPECTED_DUPLICATES
    assert {item["path"]: item["near_duplicate_of"] for item in
            manifest["near_duplicates"]} == EXPECTED_NEAR_DUPLICATES
    assert manifest["labels"]["orientation"] == 7
    assert "cracked" in manifest["labels"] and "with space" in manifest["labels"]

    # The Spark job's pixels are what the pure decoder gives for each file.
    stack = np.load(cache_dir / "images.npy")
    for row, path in enumerate(EXPECTED_USED):
        expected = images.decode_image((photos / path).read_bytes(), 32)
        assert np.array_equal(stack[row], expected.pixels), path

    # Nothing was written into the input folder and no staging folder is left.
    assert sorted(path for path in photos.rglob("*")) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cache", "photos"]

    # The summary counts skip reasons; a second run reuses the cache.
    assert "skipped 1: truncated JPEG" in result.stderr
    again = run_script(repo_root, "--input", str(photos), "--output", str(cache_dir),
                       "--resolution", "32", "--near-duplicates",
                       "--max-pixels", "1000000")
    assert again.returncode == 0 and "is up to date" in again.stderr
    assert "Spark" not in again.stderr


@pytest.mark.slow
def test_real_photos(repo_root: Path, real_photos: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    arguments = ["--input", str(real_photos), "--output", str(cache_dir),
                 "--resolution", "32"]
    result = run_script(repo_root, *arguments)
    assert result.returncode == 0, result.stderr
    manifest = check_cache_consistency(cache_dir)
    assert manifest["count"] == 144 and manifest["inputs_seen"] == 144
    assert manifest["labels"] == {"cracked": 82, "intact": 62}
    assert manifest["skipped"] == [] and manifest["duplicates"] == 0
    table = pq.read_table(cache_dir / "images.parquet")
    assert set(table.column_names) >= {"row", "path", "label", "sha256", "width",
                                       "height", "pixels"}
    assert min(table.column("width").to_pylist()) >= 160
    assert max(table.column("height").to_pylist()) == 4160
    assert all(path.split("/")[1] in ("cracked", "intact")
               for path in table.column("path").to_pylist())

    # Unchanged inputs and options: reused without starting Spark.
    again = run_script(repo_root, *arguments)
    assert again.returncode == 0 and "is up to date" in again.stderr
    assert "Spark" not in again.stderr
    assert json.loads((cache_dir / "manifest.json").read_text()) == manifest

    # A changed option rebuilds.
    padded = run_script(repo_root, *arguments, "--crop", "pad")
    assert padded.returncode == 0 and "is up to date" not in padded.stderr
    rebuilt = check_cache_consistency(cache_dir)
    assert rebuilt["fingerprint"] != manifest["fingerprint"]
    assert rebuilt["options"]["crop"] == "pad" and rebuilt["count"] == 144


def write_photos(folder: Path, count: int, start: int = 0) -> None:
    """count distinct 1600x1200 noisy JPEGs, enough work to interrupt a build."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(start)
    for index in range(start, start + count):
        pixels = rng.integers(0, 256, size=(1200, 1600, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"photo_{index:03d}.jpg", quality=90)


@pytest.mark.slow
def test_sigkill_during_a_rebuild_keeps_the_old_cache(repo_root: Path,
                                                      tmp_path: Path) -> None:
    photos, cache_dir = tmp_path / "photos", tmp_path / "cache"
    write_photos(photos / "cracked", 60)
    arguments = ["--input", str(photos), "--output", str(cache_dir),
                 "--resolution", "32"]
    assert run_script(repo_root, *arguments).returncode == 0
    before = {name: (cache_dir / name).read_bytes()
              for name in ("manifest.json", "images.npy", "labels.npy")}

    # An added photo forces a rebuild; kill -9 its process group (driver and JVM;
    # Spark's Python workers then exit with the JVM) once it is decoding.
    write_photos(photos / "cracked", 1, start=60)
    log = tmp_path / "killed.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(repo_root / "data_preprocessing.py"), *arguments],
            cwd=repo_root, stdout=subprocess.DEVNULL, stderr=stderr,
            env={**os.environ, "TMPDIR": str(tmp_path)}, start_new_session=True)
    decoding = tmp_path / f".cache.staging-{process.pid}" / "decoded.parquet"
    deadline = time.monotonic() + 300
    while not decoding.exists():
        assert process.poll() is None, (
            f"the rebuild ended before it could be killed:\n{log.read_text()[-2000:]}")
        assert time.monotonic() < deadline, "the rebuild never started decoding"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    # The old cache is untouched; the next run clears the leftovers and rebuilds.
    assert {name: (cache_dir / name).read_bytes() for name in before} == before
    assert list(tmp_path.glob(".cache.staging-*"))
    result = run_script(repo_root, *arguments)
    assert result.returncode == 0, result.stderr
    assert "left by an interrupted run" in result.stderr
    assert check_cache_consistency(cache_dir)["count"] == 61
    assert not list(tmp_path.glob(".cache.staging-*"))
