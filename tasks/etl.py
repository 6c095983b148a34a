"""ETL Spark job: raw ds partition -> typed, split staging Parquet.

Extract / transform / load with a thin :func:`main`; transforms are pure
``DataFrame -> DataFrame`` functions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from tasks.errors import DataSchemaError, RawPartitionMissing
from tasks.layout import SPLITS, Layout
from tasks.spec import PipelineSpec, load_spec

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

SPLIT_COLUMN = "__split"
SPLIT_BUCKETS = 10_000
SUMMARY = "etl_summary.json"


def local_path(uri: str) -> Path | None:
    """The local filesystem path of ``uri``, or None for a remote one (s3a://, hdfs://)."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path if parsed.scheme else uri)
    return None


def check_partition(uri: str) -> None:
    """Fail early, naming the path, when a local raw partition is missing or empty."""
    path = local_path(uri)
    if path is None:
        return
    if not path.exists():
        raise RawPartitionMissing(f"raw partition not found: {path}")
    if path.is_dir() and not any(
        p.is_file() and not p.name.startswith((".", "_")) for p in path.iterdir()
    ):
        raise RawPartitionMissing(f"raw partition has no data files: {path}")


def extract(spark: SparkSession, spec: PipelineSpec, uri: str) -> DataFrame:
    check_partition(uri)
    if spec.source.format == "csv":
        frame = spark.read.option("header", True).csv(uri)
    else:
        frame = spark.read.parquet(uri)
    missing = [c for c in spec.data_schema.columns if c not in frame.columns]
    if missing:
        raise DataSchemaError(f"{uri}: columns {missing} of the spec are missing from the data")
    return frame


def cast_to_schema(frame: DataFrame, spec: PipelineSpec) -> DataFrame:
    from pyspark.sql import functions as F

    return frame.select(
        *[F.col(name).cast(kind).alias(name) for name, kind in spec.data_schema.columns.items()]
    )


def split_label(key: str, valid_fraction: float) -> Column:
    """'valid' or 'train' from a hash of the key: stable across reruns and backfills."""
    from pyspark.sql import functions as F

    bucket = F.pmod(F.xxhash64(F.col(key).cast("string")), F.lit(SPLIT_BUCKETS))
    threshold = round(valid_fraction * SPLIT_BUCKETS)
    return F.when(bucket < threshold, F.lit("valid")).otherwise(F.lit("train"))


def assign_split(frame: DataFrame, spec: PipelineSpec) -> DataFrame:
    return frame.withColumn(
        SPLIT_COLUMN, split_label(spec.data_schema.key, spec.split.valid_fraction)
    )


def transform(frame: DataFrame, spec: PipelineSpec) -> DataFrame:
    return assign_split(cast_to_schema(frame, spec), spec)


def load(frame: DataFrame, staging_dir: Path) -> dict[str, int]:
    """Write one Parquet folder per split; return the rows written per split."""
    from pyspark.sql import functions as F

    rows = {}
    for split in SPLITS:
        target = str(staging_dir / split)
        part = frame.where(F.col(SPLIT_COLUMN) == split).drop(SPLIT_COLUMN)
        part.write.mode("overwrite").parquet(target)
        rows[split] = frame.sparkSession.read.parquet(target).count()
    return rows


def run(spark: SparkSession, spec: PipelineSpec, ds: str, storage_root: str) -> dict[str, Any]:
    layout = Layout(Path(storage_root), spec.name, ds)
    source = spec.source_path(str(layout.root), ds)
    rows = load(transform(extract(spark, spec, source), spec), layout.staging_dir)
    summary = {
        "pipeline": spec.name,
        "ds": ds,
        "source": source,
        "rows": rows,
        "engine": "spark-cpu",
    }
    (layout.staging_dir / SUMMARY).write_text(json.dumps(summary, indent=2))
    return summary


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="retune-etl")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--ds", required=True)
    parser.add_argument("--storage-root", required=True)
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    from pyspark.sql import SparkSession

    args = parse_args(argv)
    spec = load_spec(args.spec)
    spark = SparkSession.builder.appName(f"retune-etl-{spec.name}-{args.ds}").getOrCreate()
    try:
        print(json.dumps(run(spark, spec, args.ds, args.storage_root)))
    finally:
        spark.stop()
