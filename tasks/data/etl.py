"""ETL Spark job: raw ds partition -> typed, clean, deduplicated, split staging Parquet.

Extract / transform / load with a thin :func:`main`; the transforms are in
:mod:`tasks.data.transforms`. Rows that cannot be used go to a quarantine Parquet under
the run's reports folder, with a reason; the staging folder is replaced whole, and only
when the data is within the spec's tolerances.
"""

from __future__ import annotations

import glob
import math
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlparse

from tasks.core import (
    ETL_SUMMARY,
    SEGMENT_COLUMN,
    SPLITS,
    DataQualityError,
    DataSchemaError,
    EtlSummary,
    Layout,
    PipelineSpec,
    RawPartitionMissing,
    names,
    replace_dir,
)
from tasks.data.segmenting import MATCHES, add_segment, day_segments
from tasks.data.transforms import (
    RAW_RECORD,
    REASON,
    SPLIT_COLUMN,
    UNLABELED,
    add_derived_features,
    assign_split,
    category_counts,
    dedup,
    dedup_keys,
    duplicated_keys,
    time_cutoff,
    type_rows,
)
from tasks.spark import engine_of, job_spec, spark_error_text, stage_parser, stage_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Source files listed in the summary; the count is always exact.
LISTED_FILES = 1000
# Up to this many repeated keys, only their rows are deduplicated (the keys are broadcast).
BROADCAST_KEYS = 1_000_000
# Parquet row groups of the snapshot: a tuning worker reads them a batch at a time, and a
# reader holds about a row group's pages, so small groups keep its memory small.
ROW_GROUP_BYTES = 16 * 2**20


def local_path(uri: str) -> Path | None:
    """The local filesystem path of ``uri``, or None for a remote one (s3a://, hdfs://)."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path if parsed.scheme else uri)
    return None


def _data_files(path: Path) -> list[Path]:
    if glob.has_magic(str(path)):
        matches = [Path(p) for p in sorted(glob.glob(str(path)))]
        return [f for m in matches for f in ([m] if m.is_file() else _data_files(m))]
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))


def check_partition(uri: str, source_format: str = "csv") -> None:
    """Fail early, naming the path, when a local raw partition is missing, empty, unreadable,
    or holds files of another format than the spec says (a gzip file named ``.csv``)."""
    path = local_path(uri)
    if path is None:
        return
    if not glob.has_magic(str(path)) and not path.exists():
        raise RawPartitionMissing(f"raw partition not found: {path}")
    if path.is_dir() and not os.access(path, os.R_OK | os.X_OK):
        raise RawPartitionMissing(f"raw partition {path} is not readable (permissions)")
    files = _data_files(path)
    if not files:
        raise RawPartitionMissing(f"raw partition has no data files: {path}")
    empty = [str(f) for f in files if f.stat().st_size == 0]
    if empty:
        raise RawPartitionMissing(f"raw partition {path} has empty data file(s): {empty[:10]}")
    for file in files[:LISTED_FILES]:
        problem = content_problem(file, source_format)
        if problem:
            raise DataSchemaError(f"{file}: {problem}")


# First bytes of the formats a raw file may turn out to be, and the file name endings that
# Spark reads each by (Hadoop picks the codec by the extension, never by the content).
MAGIC = {
    b"\x1f\x8b": ("gzip-compressed", (".gz",)),
    b"BZh": ("bzip2-compressed", (".bz2",)),
    b"\x28\xb5\x2f\xfd": ("zstd-compressed", (".zst",)),
    b"PK\x03\x04": ("a zip archive (or an Excel workbook)", ()),
    b"PAR1": ("a Parquet file", ()),
    b"\xd0\xcf\x11\xe0": ("an old Excel or Office file", ()),
}


def content_problem(file: Path, source_format: str) -> str | None:
    """What is wrong with reading ``file`` as ``source_format``, from its first bytes."""
    with file.open("rb") as handle:
        head = handle.read(8)
    for magic, (looks, endings) in MAGIC.items():
        if not head.startswith(magic):
            continue
        if looks == "a Parquet file" and source_format == "parquet":
            return None
        if endings and file.name.endswith(endings) and source_format == "csv":
            return None
        if endings:
            return (
                f"the file is {looks} but its name does not end in {endings[0]}, so it would be "
                f"read as plain text; rename it to end in {endings[0]}"
            )
        return f"the file is {looks}, not {source_format.upper()}; export it as {source_format}"
    if source_format == "parquet" and file.suffix != ".parquet":
        return "the file is not Parquet (no PAR1 magic bytes); check source.format"
    return None


def read_source(spark: SparkSession, spec: PipelineSpec, uri: str) -> DataFrame:
    """The partition as Spark reads it; CSV columns are strings, every file's header checked."""
    try:
        if spec.source.format == "parquet":
            return spark.read.parquet(uri)
        # RFC 4180: quotes are escaped by doubling them; quoted fields may span lines.
        reader = (
            spark.read.option("header", True)
            .option("sep", spec.source.csv_delimiter)
            .option("quote", '"')
            .option("escape", '"')
            .option("multiLine", spec.source.csv_multiline)
            .option("encoding", "UTF-8")
        )
        header = reader.csv(uri).schema
        # A row with more or fewer fields than the header keeps its text in RAW_RECORD
        # (type_rows quarantines it); enforceSchema=false makes Spark check every file's
        # header against the first one.
        frame = (
            reader.schema(header.add(RAW_RECORD, "string"))
            .option("columnNameOfCorruptRecord", RAW_RECORD)
            .option("enforceSchema", False)
            .csv(uri)
        )
        # A UTF-8 byte order mark stays on the first column's name.
        return frame.toDF(*[name.removeprefix("\ufeff").strip("\r") for name in frame.columns])
    except Exception as exc:
        if isinstance(exc, DataSchemaError):
            raise
        raise RawPartitionMissing(
            f"cannot read raw partition {uri}: {spark_error_text(exc)}"
        ) from None


def extract(spark: SparkSession, spec: PipelineSpec, uri: str) -> DataFrame:
    """The raw partition's columns the spec declares (matched by name, in any order)."""
    check_partition(uri, spec.source.format)
    frame = read_source(spark, spec, uri)
    missing = [c for c in spec.data_schema.columns if c not in frame.columns]
    if missing:
        culprit = ""
        if spec.source.format == "csv":
            culprit = next(
                (
                    f"; file {file} has the header {header[:50]}"
                    for file, header in csv_headers(uri, spec.source.csv_delimiter)
                    if not set(missing) <= set(header)
                ),
                "",
            )
        raise DataSchemaError(
            f"{uri}: columns {missing} of the spec are missing from the data "
            f"(found {frame.columns[:50]}){culprit}"
        )
    return frame


def csv_headers(uri: str, delimiter: str) -> Iterator[tuple[Path, list[str]]]:
    """Each local CSV file of the partition with its header (to name a file that differs)."""
    import bz2
    import csv
    import gzip

    path = local_path(uri)
    for file in _data_files(path) if path is not None else []:
        import zstandard

        openers: dict[str, Callable[..., IO[str]]] = {
            ".gz": gzip.open,
            ".bz2": bz2.open,
            ".zst": zstandard.open,
        }
        opener = openers.get(file.suffix, open)
        try:
            with opener(file, "rt", encoding="utf-8-sig", errors="replace", newline="") as handle:
                header = next(csv.reader(handle, delimiter=delimiter), [])
        except (OSError, EOFError, csv.Error, zstandard.ZstdError):
            continue  # only names a culprit: an unreadable file is not one to name here
        yield file, header


def ignored_warnings(ignored: list[str]) -> list[str]:
    if not ignored:
        return []
    shown = ignored[:20]
    return [f"{len(ignored)} column(s) of the data are not in the spec and were ignored: {shown}"]


def extra_columns(spec: PipelineSpec, raw: DataFrame) -> list[str]:
    """Columns of the data that the spec does not declare: ignored, and reported."""
    return [c for c in raw.columns if c not in spec.data_schema.columns and c != RAW_RECORD]


def usable_rows(spark: SparkSession, spec: PipelineSpec, ds: str, storage_root: str) -> DataFrame:
    """The raw ``ds`` partition typed as ETL types it, without its wrong rows (unlabelled ones
    stay), with the derived features: what a model scores."""
    from pyspark.sql import functions as F

    source = spec.source_path(str(Layout(Path(storage_root), spec.name, ds).root), ds)
    typed = type_rows(extract(spark, spec, source), spec)
    clean = typed.where(F.col(REASON).isNull()).drop(REASON, UNLABELED)
    return add_derived_features(clean, spec.derived_features)


def check_derived_features(spark: SparkSession, spec: PipelineSpec) -> None:
    """Let Spark analyse each derived feature on an empty frame of the spec's types."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, NumericType

    columns = ", ".join(f"`{name}` {kind}" for name, kind in spec.data_schema.types.items())
    empty = spark.createDataFrame([], columns)
    for name, expression in spec.derived_features.items():
        try:
            field = empty.select(F.expr(expression).alias(name)).schema[name]
        except Exception as exc:
            raise DataSchemaError(
                f"derived feature {name!r} = {expression!r}: {spark_error_text(exc)}"
            ) from None
        if not isinstance(field.dataType, NumericType | BooleanType):
            raise DataSchemaError(
                f"derived feature {name!r} = {expression!r} is a {field.dataType.simpleString()}, "
                "not a number"
            )


def quarantine_report(typed: DataFrame) -> tuple[int, int, int, dict[str, int]]:
    """Rows read, quarantined, unlabelled (and not wrong), and how many rows each problem
    (column) affected."""
    from pyspark.sql import functions as F

    unlabeled_only = F.col(UNLABELED) & F.col(REASON).isNull()
    totals = typed.agg(
        F.count(F.lit(1)), F.count(F.col(REASON)), F.count(F.when(unlabeled_only, 1))
    ).first()
    assert totals is not None
    read, quarantined, unlabeled = int(totals[0]), int(totals[1]), int(totals[2])
    reasons: dict[str, int] = {}
    if quarantined:
        problems = typed.where(F.col(REASON).isNotNull()).select(
            F.explode(F.split(F.col(REASON), "; ")).alias("problem")
        )
        for row in problems.groupBy("problem").count().orderBy(F.desc("count")).collect():
            reasons[row["problem"]] = int(row["count"])
    return read, quarantined, unlabeled, reasons


def check_quarantine(
    spec: PipelineSpec, read: int, quarantined: int, reasons: dict[str, int], where: Path
) -> None:
    limit = spec.cleaning.max_quarantine_fraction
    if read and quarantined / read > limit:
        worst = ", ".join(
            f"{problem} ({count} rows)" for problem, count in list(reasons.items())[:10]
        )
        raise DataQualityError(
            f"{spec.name}: {quarantined} of {read} rows ({quarantined / read:.2%}) cannot be "
            f"used, above cleaning.max_quarantine_fraction = {limit:.2%}; by column: {worst}. "
            f"The rows and their reasons: {where}"
        )


def check_unlabeled(spec: PipelineSpec, read: int, unlabeled: int) -> None:
    limit = spec.cleaning.max_unlabeled_fraction
    if read and unlabeled / read > limit:
        raise DataQualityError(
            f"{spec.name}: {unlabeled} of {read} rows ({unlabeled / read:.2%}) have no "
            f"{spec.data_schema.target!r} (unlabelled), above "
            f"cleaning.max_unlabeled_fraction = {limit:.2%}"
        )


def vocabularies(spark: SparkSession, spec: PipelineSpec, train_dir: Path) -> dict[str, Any]:
    """Each categorical column's categories in the train split, most frequent first (ties by
    value), at most ``cleaning.max_categories``; rarer values will be missing.

    All columns in one aggregation; only the kept categories and a count per column reach
    the driver, however many distinct values a column has.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    columns = spec.data_schema.categorical_features
    if not columns:
        return {}
    counts = category_counts(spark.read.parquet(str(train_dir)), columns)
    column = Window.partitionBy("column")
    ranked = counts.select(
        "column",
        "value",
        "count",
        F.row_number().over(column.orderBy(F.desc("count"), F.asc("value"))).alias("rank"),
        F.count(F.lit(1)).over(column).alias("distinct"),
        F.sum("count").over(column).alias("rows"),
    )
    limit = spec.cleaning.max_categories
    kept = ranked.where(F.col("rank") <= limit).orderBy("column", "rank").collect()
    found: dict[str, Any] = {}
    for name in columns:
        rows = [row for row in kept if row["column"] == name]
        found[name] = {
            "values": [row["value"] for row in rows],
            "distinct_in_train": int(rows[0]["distinct"]) if rows else 0,
            "rows_in_kept_categories": sum(int(row["count"]) for row in rows),
            "rows_with_a_value": int(rows[0]["rows"]) if rows else 0,
        }
    return found


def check_duplicates(spec: PipelineSpec, clean: int, duplicates: int) -> None:
    limit = spec.cleaning.max_duplicate_fraction
    if clean and duplicates / clean > limit:
        raise DataQualityError(
            f"{spec.name}: {duplicates} of {clean} rows ({duplicates / clean:.2%}) repeat a "
            f"key of column {spec.data_schema.key!r}, above cleaning.max_duplicate_fraction = "
            f"{limit:.2%}"
        )


@dataclass(frozen=True)
class Deduplicated:
    frame: DataFrame
    removed: int


def deduplicate(clean: DataFrame, spec: PipelineSpec, rows: int) -> Deduplicated:
    """One row per key; fails first when more rows repeat a key than the spec tolerates."""
    from pyspark.sql import functions as F

    key, timestamp = spec.data_schema.key, spec.data_schema.timestamp
    duplicated = duplicated_keys(clean, key).persist()
    try:
        totals = duplicated.agg(F.count(F.lit(1)), F.sum("__extra")).first()
        assert totals is not None
        keys, removed = int(totals[0]), int(totals[1] or 0)
        check_duplicates(spec, rows, removed)
        if removed == 0:
            return Deduplicated(clean, 0)
        if keys > BROADCAST_KEYS:
            return Deduplicated(dedup(clean, key, timestamp), removed)
        # The broadcast side must outlive ``duplicated``'s cache: take it to the driver now.
        small = clean.sparkSession.createDataFrame(duplicated.collect(), duplicated.schema)
        return Deduplicated(dedup_keys(clean, key, timestamp, small), removed)
    finally:
        duplicated.unpersist()


def file_count(rows: int, rows_per_file: int) -> int:
    return max(1, math.ceil(rows / rows_per_file))


def parquet_rows(folder: Path) -> tuple[int, int]:
    """Rows and data files of a Parquet folder (segment folders included), from the files'
    footers."""
    import pyarrow.parquet as pq

    parts = sorted(folder.rglob("*.parquet"))
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parts), len(parts)


SPARK_PART_NAME = re.compile(r"^(part-\d+)-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}(\..+)$")


def stable_file_names(folder: Path) -> None:
    """Drop the write's UUID from Spark's part-file names, so the same rows written again
    give the same files, and the snapshot the same content hash (a rerun is idempotent)."""
    for path in list(folder.iterdir()):
        if path.is_dir():  # a segment's folder
            stable_file_names(path)
            continue
        hidden = path.name.startswith(".")  # Hadoop's .<part>.crc checksum beside each file
        match = SPARK_PART_NAME.match(path.name.lstrip("."))
        if match:
            path.rename(path.with_name("." * hidden + match.group(1) + match.group(2)))


def write_splits(
    staged: DataFrame,
    expected_rows: int,
    train_share: float,
    target: Path,
    rows_per_file: int,
    key: str | None = None,
) -> tuple[dict[str, int], dict[str, int]]:
    """Both splits in one pass, as ``target/train`` and ``target/valid``; (rows, files) per split.

    Each of the N write tasks writes one file per split, N chosen so train files hold
    about ``rows_per_file`` rows (never more); partitions are merged without a shuffle.
    A segmented frame (with :data:`SEGMENT_COLUMN`) is written one folder per segment in
    each split, each segment's rows by one task, sorted by ``key`` so a rerun writes the
    same files.
    """
    wanted = file_count(round(expected_rows * train_share), rows_per_file)
    by_split = target / "_by_split"
    if SEGMENT_COLUMN in staged.columns:
        if key is None:
            raise ValueError("a segmented frame is written sorted by its key")
        arranged = staged.repartition(wanted, SEGMENT_COLUMN).sortWithinPartitions(
            SEGMENT_COLUMN, SPLIT_COLUMN, key
        )
        writer = arranged.write.partitionBy(SPLIT_COLUMN, SEGMENT_COLUMN)
    else:
        writer = staged.coalesce(wanted).write.partitionBy(SPLIT_COLUMN)
    writer.option("maxRecordsPerFile", rows_per_file).option(
        "parquet.block.size", ROW_GROUP_BYTES
    ).parquet(str(by_split))
    rows, files = {}, {}
    for split in SPLITS:
        written = by_split / f"{SPLIT_COLUMN}={split}"
        if not written.is_dir():
            raise DataQualityError(
                f"no row fell into the {split} split ({expected_rows} rows): check split settings"
            )
        written.rename(target / split)
        stable_file_names(target / split)
        rows[split], files[split] = parquet_rows(target / split)
    shutil.rmtree(by_split)
    return rows, files


@dataclass(frozen=True)
class SetAside:
    """What the quarantine took out of a day's rows, and why."""

    read: int
    quarantined: int
    unlabeled: int
    reasons: dict[str, int]

    @property
    def usable(self) -> int:
        return self.read - self.quarantined - self.unlabeled


def run_etl(spark: SparkSession, spec: PipelineSpec, ds: str, storage_root: str) -> EtlSummary:
    """Read the raw partition of ``ds``, type, quarantine, dedup, derive, split and stage it."""
    from pyspark import StorageLevel

    layout = Layout(Path(storage_root), spec.name, ds)
    source = spec.source_path(str(layout.root), ds)
    # A failed run must not leave an earlier run's staging behind for validate to pass.
    shutil.rmtree(layout.staging_dir, ignore_errors=True)
    check_derived_features(spark, spec)
    raw = extract(spark, spec, source)
    typed = type_rows(raw, spec).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        aside = quarantine(spark, spec, layout, source, typed)
        return stage(spark, spec, layout, raw, typed, aside)
    finally:
        typed.unpersist()


def quarantine(
    spark: SparkSession, spec: PipelineSpec, layout: Layout, source: str, typed: DataFrame
) -> SetAside:
    """Write the rows that cannot be used to the quarantine; refuse the day when there are
    more of them, or more unlabelled rows, than the spec tolerates."""
    from pyspark.sql import functions as F

    try:
        aside = SetAside(*quarantine_report(typed))
    except Exception as exc:
        raise DataSchemaError(
            f"cannot read raw partition {source}: {spark_error_text(exc)}"
        ) from None
    if aside.read == 0:
        raise RawPartitionMissing(f"raw partition {source} has no rows")
    with replace_dir(layout.quarantine_dir) as tmp:
        typed.where(F.col(REASON).isNotNull()).coalesce(1).write.parquet(str(tmp / "rows"))
    check_quarantine(spec, aside.read, aside.quarantined, aside.reasons, layout.quarantine_dir)
    check_unlabeled(spec, aside.read, aside.unlabeled)
    return aside


def stage(
    spark: SparkSession,
    spec: PipelineSpec,
    layout: Layout,
    raw: DataFrame,
    typed: DataFrame,
    aside: SetAside,
) -> EtlSummary:
    """The usable rows deduplicated, derived, split and segmented, written to staging with
    the summary of the day."""
    from pyspark.sql import functions as F

    clean = typed.where(F.col(REASON).isNull() & ~F.col(UNLABELED)).drop(REASON, UNLABELED)
    duplicates = deduplicate(clean, spec, aside.usable)
    features = add_derived_features(duplicates.frame, spec.derived_features)
    cutoff = time_cutoff(features, spec) if spec.split.method == "time" else None
    staged = add_segment(assign_split(features, spec, cutoff), spec)
    segments = day_segments(staged, spec)
    if MATCHES in staged.columns:
        staged = staged.drop(MATCHES)
    kept = aside.usable - duplicates.removed
    with replace_dir(layout.staging_dir) as tmp:
        rows, files = write_splits(
            staged,
            kept,
            1 - spec.split.valid_fraction,
            tmp,
            spec.cleaning.rows_per_file,
            spec.data_schema.key,
        )
        if sum(rows.values()) != kept:
            raise RuntimeError(f"ETL wrote {rows} rows, expected {kept} in all")
        ignored = extra_columns(spec, raw)
        source_files = raw.inputFiles()
        summary = EtlSummary(
            pipeline=spec.name,
            ds=layout.ds,
            source=spec.source_path(str(layout.root), layout.ds),
            source_file_count=len(source_files),
            source_files=sorted(source_files)[:LISTED_FILES],
            rows_read=aside.read,
            quarantined=aside.quarantined,
            quarantine_reasons=aside.reasons,
            quarantine_path=str(layout.quarantine_dir),
            unlabeled=aside.unlabeled,
            duplicates_removed=duplicates.removed,
            rows=rows,
            files=files,
            split={"method": spec.split.method, "time_cutoff": cutoff},
            derived_features=list(spec.derived_features),
            categories=vocabularies(spark, spec, tmp / "train"),
            segments=segments.as_record() if spec.segments is not None else None,
            ignored_columns=ignored,
            warnings=ignored_warnings(ignored),
            engine=engine_of(spark),
        )
        summary.write(tmp / ETL_SUMMARY)
    return summary


def main(argv: list[str]) -> None:
    args = stage_parser("retune-etl").parse_args(argv)
    spec = job_spec(args)
    with stage_session(names.ETL, spec, args.ds, args.storage_root) as spark:
        print(run_etl(spark, spec, args.ds, args.storage_root).model_dump_json())
