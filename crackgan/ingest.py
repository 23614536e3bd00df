"""The preprocessing job: list photos, decode them with Spark, dedupe, write the cache.

Decoding runs in a pandas UDF (`mapInPandas`) that is a thin wrapper over
`crackgan.images.decode_image`; raw bytes stream through Spark partitions and only
small per-image metadata is collected on the driver.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import heapq
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote

import numpy as np

from crackgan import cache
from crackgan.config import ConfigError, PreprocessConfig
from crackgan.fileio import atomic_write_json, check_output_folder, replace_directory
from crackgan.images import decode_image, dhash, sha256_hex

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
# Operating-system side files that share folders with photos.
IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini", "icon\r"})
# Spark's binaryFile source cannot read a file of 2 GiB or more.
MAX_FILE_BYTES = 2**31 - 1
# Rows per Arrow batch sent to a Python worker: bounded so a batch of 12 MP photos
# stays at tens of megabytes.
ARROW_BATCH_ROWS = 16
# Decoding partitions per core when --partitions is 0: two, so a slow partition does
# not leave a core idle at the end, once each partition gets at least
# MIN_FILES_PER_PARTITION files; fewer files get one partition per core, because each
# Spark task costs about 0.1-0.15 s of scheduling and Parquet commit on 2 cores.
PARTITIONS_PER_CORE = 2
MIN_FILES_PER_PARTITION = 64
# Row groups of the decoded table and of images.parquet: pyarrow reads a whole row
# group at a time and needs several times its size to do so, so this bounds the
# driver's memory while it copies the pixels and fills images.npy.
PARQUET_ROW_GROUP_BYTES = 2**20
# With --read-bytes worker the driver JVM (also the executor in local mode) only
# plans and schedules while Python workers read and decode, so it compiles with the
# quick C1 JIT alone: C2's optimising compiler cost it 0.2-0.3 s of CPU per warm
# 200-photo build on 2 cores. Measured: session start 3.0 s instead of 3.7 s, warm
# build 5.1 s instead of 5.3 s. With binaryfile the JVM reads every byte and needs
# C2 (C1 alone: 14 instead of 22 images/s).
WORKER_MODE_DRIVER_JIT = "-XX:TieredStopAtLevel=1"
# Seconds between progress lines while a Spark stage runs.
PROGRESS_INTERVAL_SEC = 2.0
# What the error calls a folder holding cache.MANIFEST.
CACHE_WHAT = "crackgan cache"
REPO_ROOT = Path(__file__).resolve().parent.parent
DECODED_SCHEMA = (
    "path string, label string, sha256 string, width int, height int, "
    "pixels binary, dhash long, reason string, worker string"
)
LOG4J_TEMPLATE = """\
rootLogger.level = {level}
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{{HH:mm:ss}} %-7p spark.%c{{1}}: %m%n
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
logger.spark.name = org.apache.spark
logger.spark.level = {level}
"""


class NoUsableImagesError(RuntimeError):
    """The input folder holds no photo that could be decoded."""


class NoImagesError(NoUsableImagesError):
    """The input folder holds no file with an image extension at all."""


@dataclasses.dataclass(frozen=True)
class Listing:
    """What the driver found under the input folder."""

    # Every file with an image extension, sorted by relative path.
    files: list[cache.InputFile]
    # Non-image, hidden and system files that were not considered.
    ignored_count: int

    def to_decode(self) -> list[cache.InputFile]:
        """Files worth sending to Spark: not empty and not over its size limit."""
        return [item for item in self.files
                if 0 < item.size_bytes <= MAX_FILE_BYTES]

    def skipped_unread(self) -> list[dict[str, str]]:
        """Files rejected from their size alone, with the reason."""
        skipped = []
        for item in self.files:
            if item.size_bytes == 0:
                skipped.append({"path": item.relative, "reason": "empty file"})
            elif item.size_bytes > MAX_FILE_BYTES:
                skipped.append({"path": item.relative, "reason": (
                    f"too large: file of {item.size_bytes} bytes exceeds 2 GiB")})
        return skipped


def is_hidden_or_system(relative: Path) -> bool:
    """True for dot-files, files in dot-folders, Thumbs.db and desktop.ini."""
    if any(part.startswith(".") for part in relative.parts):
        return True
    return relative.name.lower() in IGNORED_NAMES


def list_inputs(root: Path) -> Listing:
    """List photos recursively, sorted by relative path, with size and mtime."""
    files, ignored = [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            relative = path.relative_to(root)
            if is_hidden_or_system(relative) or path.suffix.lower() not in (
                IMAGE_EXTENSIONS
            ):
                ignored += 1
                continue
            stat = path.stat()
            files.append(cache.InputFile(relative.as_posix(), stat.st_size,
                                         stat.st_mtime_ns))
    files.sort(key=lambda item: item.relative)
    return Listing(files, ignored)


def fingerprint_options(config: PreprocessConfig) -> dict[str, Any]:
    """The options that change the cache's content (not where or how it runs)."""
    return {
        "resolution": config.resolution, "crop": config.crop, "seed": config.seed,
        "min_size": config.min_size, "max_pixels": config.max_pixels,
        "near_duplicates": config.near_duplicates,
        "near_duplicate_distance": config.near_duplicate_distance,
    }


def local_path_from_uri(uri: str) -> str:
    """The local path of a binaryFile `path` value.

    Spark 4 returns "file:" followed by the path as it is on disk (spaces, "%" and
    "#" not escaped), so only the scheme is removed. A percent-encoded URI, as
    other Hadoop versions may give, is decoded when only its decoded form exists.
    """
    path = uri[len("file:"):] if uri.startswith("file:") else uri
    if path.startswith("//"):
        path = "/" + path[2:].split("/", 1)[1] if "/" in path[2:] else "/"
    if not os.path.exists(path) and os.path.exists(unquote(path)):
        return unquote(path)
    return path


def relative_from_uri(uri: str, root: str) -> str:
    """Path relative to root, '/'-separated, from a binaryFile `path` value."""
    return Path(local_path_from_uri(uri)).relative_to(root).as_posix()


def decode_batches(batches: Iterator[Any], root: str, resolution: int, crop: str,
                   min_size: int, max_pixels: int) -> Iterator[Any]:
    """mapInPandas body over binaryFile rows: decode each (path, content) row.

    A null content means the bytes were not sent through Spark: the Python worker
    reads the file itself.
    """
    worker = worker_name()
    for frame in batches:
        yield decoded_table([
            decode_row(uri, content, root, resolution, crop, min_size, max_pixels)
            + (worker,) for uri, content in zip(frame["path"], frame["content"])])


def decode_groups(batches: Iterator[Any], groups: list[list[str]], root: str,
                  resolution: int, crop: str, min_size: int,
                  max_pixels: int) -> Iterator[Any]:
    """mapInPandas body over group numbers: decode the files of each group.

    Each input row holds the number of one group of file URIs; the Python worker
    reads those files itself, so their bytes never pass through the JVM. Output
    tables hold at most ARROW_BATCH_ROWS images, which bounds the worker's memory.
    """
    worker = worker_name()
    for frame in batches:
        for group in frame["id"]:
            uris = groups[int(group)]
            for start in range(0, len(uris), ARROW_BATCH_ROWS):
                yield decoded_table([
                    decode_row(uri, None, root, resolution, crop, min_size,
                               max_pixels) + (worker,)
                    for uri in uris[start:start + ARROW_BATCH_ROWS]])


def worker_name() -> str:
    """Host, process and working folder of the Python worker, for the manifest."""
    return f"{socket.gethostname()}|{os.getpid()}|{os.getcwd()}"


def decoded_table(rows: list[tuple[Any, ...]]) -> Any:
    """A pandas DataFrame of decoded rows in DECODED_SCHEMA's column order."""
    import pandas as pd

    columns = [name.split()[0] for name in DECODED_SCHEMA.split(", ")]
    table = pd.DataFrame(rows, columns=columns)

    # Nullable integers: a float column would round 64-bit hashes.
    table["dhash"] = pd.array([row[6] for row in rows], dtype="Int64")
    return table


def decode_row(uri: str, content: bytes | None, root: str, resolution: int,
               crop: str, min_size: int, max_pixels: int) -> tuple[Any, ...]:
    """One decoded row: path, label, sha256, width, height, pixels, dhash, reason."""
    relative = relative_from_uri(uri, root)
    label = Path(relative).parent.name or Path(root).name
    try:
        data = content if content is not None else Path(
            local_path_from_uri(uri)).read_bytes()
    except OSError as error:
        return (relative, label, "", 0, 0, None, None,
                f"unreadable: {error.strerror or error}")
    decoded = decode_image(data, resolution, crop, min_size, max_pixels)
    if decoded.pixels is None:
        return (relative, label, sha256_hex(data), decoded.width, decoded.height,
                None, None, decoded.reason)
    return (relative, label, sha256_hex(data), decoded.width, decoded.height,
            decoded.pixels.tobytes(), dhash(decoded.pixels), None)


@dataclasses.dataclass
class Selection:
    """Which decoded images the cache keeps, and why the others were left out."""

    used: list[dict[str, Any]]
    skipped: list[dict[str, str]]
    duplicate_paths: list[str]
    near_duplicates: list[dict[str, Any]]


def select_images(records: list[dict[str, Any]], near_duplicates: bool,
                  near_distance: int) -> Selection:
    """Drop failures, exact duplicates and (optionally) near-duplicates.

    Records are taken in path order, so the first copy by path is the one kept.
    """
    selection = Selection([], [], [], [])
    first_by_sha: dict[str, str] = {}
    kept_hashes: list[int] = []
    for record in sorted(records, key=lambda record: record["path"]):

        # Undecodable files and exact copies of an earlier file are left out.
        if record["reason"] is not None:
            selection.skipped.append({"path": record["path"],
                                      "reason": record["reason"]})
            continue
        if record["sha256"] in first_by_sha:
            selection.duplicate_paths.append(record["path"])
            continue
        first_by_sha[record["sha256"]] = record["path"]

        # A photo within the Hamming distance of a kept one is a near-duplicate.
        if near_duplicates and kept_hashes:
            distances = np.bitwise_count(
                np.array(kept_hashes, dtype=np.int64).view(np.uint64)
                ^ np.array([record["dhash"]], dtype=np.int64).view(np.uint64))
            closest = int(np.argmin(distances))
            if distances[closest] <= near_distance:
                selection.near_duplicates.append({
                    "path": record["path"],
                    "near_duplicate_of": selection.used[closest]["path"],
                    "distance": int(distances[closest])})
                continue
        kept_hashes.append(int(record["dhash"]))
        selection.used.append(record)
    return selection


class StageProgress:
    """Log the running Spark stages' task counts every few seconds from a thread."""

    def __init__(self, spark_context: Any, what: str) -> None:
        self._tracker = spark_context.statusTracker()
        self._what = what
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        last = None
        while not self._stop.wait(PROGRESS_INTERVAL_SEC):
            done = total = 0
            for stage_id in self._tracker.getActiveStageIds():
                info = self._tracker.getStageInfo(stage_id)
                if info is not None:
                    done += info.numCompletedTasks
                    total += info.numTasks
            if total and (done, total) != last:
                logger.info("%s: %d/%d tasks done", self._what, done, total)
                last = (done, total)

    def __enter__(self) -> "StageProgress":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def binary_file_can_read(relative: str) -> bool:
    """False for names Spark's file listing drops or Hadoop cannot parse.

    Spark treats leaf names starting with "_" as metadata and skips them, and Hadoop
    paths cannot hold a colon; such files go to the decoding workers by path.
    """
    return not Path(relative).name.startswith("_") and ":" not in relative


def hadoop_path(path: Path) -> str:
    """A local path with Hadoop glob characters escaped, so it is read literally."""
    text = str(path)
    for char in "\\{}[]*?":
        text = text.replace(char, "\\" + char)
    return text


def package_zip(folder: Path) -> Path:
    """Zip the crackgan package so cluster executors can import it."""
    archive = folder / "crackgan.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for source in (REPO_ROOT / "crackgan").rglob("*.py"):
            bundle.write(source, source.relative_to(REPO_ROOT).as_posix())
    return archive


def start_spark(config: PreprocessConfig, work_dir: Path) -> Any:
    """A Spark session with quiet JVM logs and workers on this Python interpreter."""
    from pyspark.sql import SparkSession

    # Workers run this interpreter and can import crackgan.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    python_path = os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    os.environ["PYTHONPATH"] = python_path

    # The JVM reads our log4j2 settings instead of printing its default banner.
    # Spark's own loggers get an explicit level, which its shell filter respects.
    log4j = work_dir / "log4j2.properties"
    log4j.write_text(LOG4J_TEMPLATE.format(level="info" if config.verbose else "warn"))
    java_options = f"-Dlog4j2.configurationFile={log4j.as_uri()}"
    builder = (
        SparkSession.builder.master(config.master).appName("crackgan-preprocess")
        .config("spark.driver.extraJavaOptions", java_options + (
            f" {WORKER_MODE_DRIVER_JIT}" if config.read_bytes == "worker" else ""))
        .config("spark.executor.extraJavaOptions", java_options)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.executorEnv.PYTHONPATH", python_path)
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH_ROWS))
        .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "1000000")
        # The job has no shuffle for adaptive execution to tune; planning it anyway
        # delayed each job's first task by about 0.04 s.
        .config("spark.sql.adaptive.enabled", "false")
    )
    if config.master.startswith("local"):
        # A local job stays on loopback: no warning about the host name, no open port.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.config("spark.driver.bindAddress", "127.0.0.1")
        builder = builder.config("spark.driver.host", "127.0.0.1")
    else:
        builder = builder.config("spark.submit.pyFiles", str(package_zip(work_dir)))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("INFO" if config.verbose else "WARN")
    return spark


def default_partitions(cores: int, file_count: int) -> int:
    """Two partitions per core for large inputs, one per core for small ones."""
    per_core = PARTITIONS_PER_CORE
    while per_core > 1 and file_count < per_core * cores * MIN_FILES_PER_PARTITION:
        per_core -= 1
    return per_core * cores


def plan_partitions(spark: Any, config: PreprocessConfig,
                    files: list[cache.InputFile]) -> int:
    """How many partitions to decode in: --partitions, or one or two per core."""
    target = config.partitions or default_partitions(
        spark.sparkContext.defaultParallelism, len(files))
    return max(1, min(target, len(files)))


def decode_with_spark(spark: Any, config: PreprocessConfig, root: Path,
                      listing: Listing, decoded_dir: Path) -> list[dict[str, Any]]:
    """Decode every listed file into decoded_dir (Parquet); return its metadata."""
    import pyarrow.dataset as pa_dataset

    # Read the listed files' bytes and decode them in Python workers, partition by
    # partition; the pixels go straight to Parquet.
    files = listing.to_decode()
    partitions = plan_partitions(spark, config, files)
    options = (str(root), config.resolution, config.crop, config.min_size,
               config.max_pixels)
    if config.read_bytes == "binaryfile":
        decoded = read_raw(spark, root, files, partitions).mapInPandas(
            lambda batches: decode_batches(batches, *options), schema=DECODED_SCHEMA)
    else:
        groups = [[f"file:{root / item.relative}" for item in group]
                  for group in pack_by_size(files, partitions)]
        decoded = spark.range(0, len(groups), 1, len(groups)).mapInPandas(
            lambda batches: decode_groups(batches, groups, *options),
            schema=DECODED_SCHEMA)
    logger.info("decoding %d files in about %d partitions", len(files), partitions)
    with StageProgress(spark.sparkContext, "decoding"):
        decoded.write.option("parquet.block.size", PARQUET_ROW_GROUP_BYTES).parquet(
            str(decoded_dir))

    # Only the small columns come back to the driver.
    columns = ["path", "label", "sha256", "width", "height", "dhash", "reason",
               "worker"]
    table = pa_dataset.dataset(decoded_dir, format="parquet").to_table(columns=columns)
    return table.to_pylist()


def pack_by_size(files: list[cache.InputFile], bins: int
                 ) -> list[list[cache.InputFile]]:
    """Spread files over at most `bins` groups of similar total bytes.

    Largest file first, each into the group with the fewest bytes so far, so the
    partitions built from the groups take similar times to decode.
    """
    groups: list[list[cache.InputFile]] = [[] for _ in range(max(1, bins))]
    lightest = [(0, index) for index in range(len(groups))]
    for item in sorted(files, key=lambda item: (-item.size_bytes, item.relative)):
        total, index = heapq.heappop(lightest)
        groups[index].append(item)
        heapq.heappush(lightest, (total + item.size_bytes, index))
    return [group for group in groups if group]


def read_raw(spark: Any, root: Path, files: list[cache.InputFile],
             partitions: int) -> Any:
    """A DataFrame of (path, content) in about `partitions` binaryFile partitions.

    The content column holds the bytes, read by the JVM and sent to Python through
    Arrow. Names binaryFile cannot list get a null content, so the Python worker
    reads those files itself. Spark bins files by size plus an "open cost" per file;
    setting that cost to the mean file size balances partitions by both bytes and
    file count.
    """

    # Partition sizes for binaryFile's packing.
    total_bytes = sum(item.size_bytes for item in files)
    open_cost = max(1, total_bytes // max(1, len(files)))
    spark.conf.set("spark.sql.files.openCostInBytes", str(open_cost))
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(max(
        1, -(-(total_bytes + open_cost * len(files)) // partitions))))

    # binaryFile reads the names it can list; the workers read the others by path.
    readable = [item for item in files if binary_file_can_read(item.relative)]
    direct = [item for item in files if not binary_file_can_read(item.relative)]
    frames = []
    if readable:
        paths = [hadoop_path(root / item.relative) for item in readable]
        listed = spark.read.format("binaryFile").load(paths)
        frames.append(listed.select("path", "content"))
    if direct:
        frames.append(spark.createDataFrame(
            [(f"file:{root / item.relative}", None) for item in direct],
            schema="path string, content binary"))
    raw = frames[0]
    for frame in frames[1:]:
        raw = raw.unionByName(frame)
    return raw


def write_image_table(decoded_dir: Path, used: list[dict[str, Any]],
                      parquet_dir: Path, resolution: int) -> None:
    """Write images.parquet/: the kept rows, numbered in path order, with pixels.

    The decoded table is streamed through the driver one row group at a time
    (memory holds one batch) instead of through a second Spark job: copying a few
    kilobytes per image takes 0.1-0.2 s for 200 photos, less than scheduling a job.
    The files are not sorted; the `row` column gives the order. Only the label
    column is dictionary-encoded: the others are unique per row, and a dictionary
    attempt on the pixels cost the driver 24 MiB more at 1,000 photos.
    """
    import pyarrow
    import pyarrow.parquet as pa_parquet

    # Number the kept rows by path; batches are as large as one row group.
    row_of = {record["path"]: row for row, record in enumerate(used)}
    columns = ["path", "label", "sha256", "width", "height", "pixels"]
    batch_rows = max(1, PARQUET_ROW_GROUP_BYTES // (resolution * resolution * 3))
    parquet_dir.mkdir()
    writer = None
    try:
        for batch in cache.parquet_batches(decoded_dir, columns, batch_rows):

            # Keep the used rows of this batch and put their number in front.
            paths = batch.column("path").to_pylist()
            keep = [index for index, path in enumerate(paths) if path in row_of]
            if not keep:
                continue
            table = pyarrow.Table.from_batches([batch.take(pyarrow.array(keep))])
            rows = pyarrow.array([row_of[paths[index]] for index in keep],
                                 pyarrow.int64())
            table = table.add_column(0, "row", rows)
            if writer is None:
                writer = pa_parquet.ParquetWriter(
                    parquet_dir / "part-00000.parquet", table.schema,
                    use_dictionary=["label"])
            writer.write_table(table, row_group_size=batch_rows)
    finally:
        if writer is not None:
            writer.close()


def build_manifest(config: PreprocessConfig, listing: Listing,
                   selection: Selection, fingerprint: str,
                   records: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest.json contents for a finished build."""
    label_counts = Counter(record["label"] for record in selection.used)
    skipped = listing.skipped_unread() + selection.skipped
    return {
        "resolution": config.resolution,
        "count": len(selection.used),
        "labels": dict(sorted(label_counts.items())),
        "label_names": sorted(label_counts),
        "inputs_seen": len(listing.files),
        "ignored_files": listing.ignored_count,
        "skipped": sorted(skipped, key=lambda item: item["path"]),
        "duplicates": len(selection.duplicate_paths),
        "duplicate_paths": selection.duplicate_paths,
        "near_duplicates": selection.near_duplicates,
        "fingerprint": fingerprint,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "options": dataclasses.asdict(config),
        "decoded_by": sorted({record["worker"] for record in records}),
    }


def log_summary(manifest: dict[str, Any], seconds: float) -> None:
    """One line for what was kept, one per skip reason."""
    logger.info("used %d of %d files in %.1f s: %s; %d exact duplicates, %d near "
                "duplicates, %d skipped", manifest["count"], manifest["inputs_seen"],
                seconds, ", ".join(f"{name} {count}" for name, count in
                                   manifest["labels"].items()) or "no labels",
                manifest["duplicates"], len(manifest["near_duplicates"]),
                len(manifest["skipped"]))
    reasons = Counter(item["reason"].split(":")[0] for item in manifest["skipped"])
    for reason, count in reasons.most_common():
        logger.info("  skipped %d: %s", count, reason)


def unreturned_records(listing: Listing, records: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
    """Records marking listed files that Spark's read did not return as skipped."""
    returned = {record["path"] for record in records}
    return [{"path": item.relative, "label": "", "sha256": "", "width": 0,
             "height": 0, "dhash": None, "worker": "driver",
             "reason": "not read by Spark (its file listing dropped the file)"}
            for item in listing.to_decode() if item.relative not in returned]


@contextlib.contextmanager
def spark_session(config: PreprocessConfig) -> Iterator[Any]:
    """Start a Spark session for the job and stop it afterwards."""
    with tempfile.TemporaryDirectory(prefix="crackgan-spark-") as work:
        started = time.monotonic()
        spark = start_spark_or_explain(config, Path(work))
        logger.info("Spark %s started on %s in %.1f s", spark.version, config.master,
                    time.monotonic() - started)
        try:
            yield spark
        finally:
            spark.stop()


def start_spark_or_explain(config: PreprocessConfig, work_dir: Path) -> Any:
    """start_spark, with a start-up failure turned into a ConfigError on --master."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    try:
        return start_spark(config, work_dir)
    except (PySparkException, Py4JError) as error:
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise ConfigError(f"--master {config.master}: could not start Spark: "
                          f"{lines[0]}") from error


def build_cache(spark: Any, config: PreprocessConfig, root: Path, listing: Listing,
                fingerprint: str, staging: Path) -> dict[str, Any]:
    """Run the Spark job and write the whole cache into the staging folder."""

    # Decode, then choose the rows to keep from the metadata alone.
    started = time.monotonic()
    decoded_dir = staging / "decoded.parquet"
    records = (decode_with_spark(spark, config, root, listing, decoded_dir)
               if listing.to_decode() else [])
    logger.info("decoded %d files in %.1f s", len(records), time.monotonic() - started)
    records += unreturned_records(listing, records)
    selection = select_images(records, config.near_duplicates,
                              config.near_duplicate_distance)
    manifest = build_manifest(config, listing, selection, fingerprint, records)
    if not selection.used:
        return manifest

    # Write the kept rows with their pixels; the decoded table is then spent.
    started = time.monotonic()
    write_image_table(decoded_dir, selection.used, staging / cache.PARQUET_DIR,
                      config.resolution)
    shutil.rmtree(decoded_dir)

    # Fill the arrays from Parquet in batches, then the preview grid.
    cache.fill_arrays(staging / cache.PARQUET_DIR, staging, manifest["count"],
                      config.resolution, manifest["label_names"])
    cache.write_reals(staging, config.seed,
                      title=f"{manifest['count']} cached images, "
                      f"{config.resolution} px")
    logger.info("wrote images.parquet, images.npy, labels.npy and reals.png in %.1f s",
                time.monotonic() - started)
    return manifest


def run(config: PreprocessConfig, spark: Any = None) -> dict[str, Any]:
    """Bring the cache at config.output up to date with config.input; return manifest.

    Reuses a complete cache with the same fingerprint without starting Spark, unless
    config.force. A Spark session is started for the build unless one is given
    (benchmarks pass one to time warm runs). Raises ConfigError for a missing input
    folder and NoUsableImagesError when no photo could be used.
    """
    started = time.monotonic()
    root = Path(config.input).resolve()
    if not root.is_dir():
        raise ConfigError(f"--input: folder {config.input!r} does not exist "
                          f"(resolved to {root})")
    output = Path(config.output).resolve()
    check_output_path(output, root)

    # List and fingerprint the inputs; an up-to-date cache is reused as it is.
    listing = list_inputs(root)
    logger.info("found %d image files under %s (%d other files ignored)",
                len(listing.files), root,
                listing.ignored_count)
    fingerprint = cache.fingerprint(listing.files, root,
                                    fingerprint_options(config))
    existing = cache.current_manifest(output, fingerprint)
    if existing is not None and not config.force:
        logger.info("cache %s is up to date (fingerprint %s, %d images); reusing it, "
                    "--force rebuilds", output, fingerprint[:12], existing["count"])
        return existing
    if not listing.files:
        raise NoImagesError(no_images_message(root))

    # Build in a staging folder beside the output, then swap it into place.
    remove_abandoned_staging(output)
    staging = output.with_name(f".{output.name}.staging-{os.getpid()}")
    staging.mkdir(parents=True)
    try:
        if spark is None:
            with spark_session(config) as session:
                manifest = build_cache(session, config, root, listing, fingerprint,
                                       staging)
        else:
            manifest = build_cache(spark, config, root, listing, fingerprint, staging)
        log_summary(manifest, time.monotonic() - started)
        if manifest["count"] == 0:
            raise NoUsableImagesError(all_skipped_message(root, manifest))
        atomic_write_json(staging / "manifest.json", manifest)
        replace_directory(staging, output, cache.MANIFEST, "--output", CACHE_WHAT)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return manifest


def check_output_path(output: Path, root: Path) -> None:
    """Refuse an output that overlaps the photo folder or would replace other files.

    Both paths are resolved. Raises ConfigError naming --output.
    """
    if output == root or root in output.parents:
        raise ConfigError(f"--output: {output} is inside --input {root}; nothing is "
                          "written into the photo folder, choose another")
    if output in root.parents:
        raise ConfigError(f"--output: {output} contains --input {root}; the cache "
                          "folder is replaced whole, choose a folder outside it")
    check_output_folder(output, cache.MANIFEST, "--output", CACHE_WHAT)


def remove_abandoned_staging(output: Path) -> None:
    """Delete staging folders left by killed runs (their process no longer exists)."""
    for staging in output.parent.glob(f".{output.name}.staging-*"):
        pid_text = staging.name.rsplit("-", 1)[1]
        if pid_text.isdigit() and (
            int(pid_text) == os.getpid() or not Path(f"/proc/{pid_text}").exists()
        ):
            logger.info("removing %s, left by an interrupted run", staging)
            shutil.rmtree(staging)


def no_images_message(root: Path) -> str:
    """The error for a folder without a single usable photo."""
    formats = ", ".join(extension.lstrip(".") for extension in IMAGE_EXTENSIONS)
    return (f"--input: no usable image in {root} (searched recursively for files "
            f"ending in {formats}, any letter case)")


def all_skipped_message(root: Path, manifest: dict[str, Any]) -> str:
    """The error for a folder whose photos were all found but all skipped."""
    reasons = Counter(item["reason"].split(":")[0] for item in manifest["skipped"])
    counts = ", ".join(f"{reason}: {count}" for reason, count in reasons.most_common())
    return (f"--input: {manifest['inputs_seen']} image files found in {root}, all "
            f"skipped ({counts}); see the skip reasons logged above, and --min-size "
            "and --max-pixels for the size limits")
