"""Data stages benchmark: ETL, validation and materialize on local Spark, at scale.

Generates N rows x C columns of raw Parquet (with Spark, so the generator never holds the
data), then runs the three stages as the pipeline does and prints one JSON object per
stage: ``stage``, ``rows``, ``seconds``, ``rows_per_s``, ``peak_rss_mb`` (the driver: this
Python process plus Spark's JVM, which in local mode also runs the executors), and the
two parts of that peak.

    python -m bench.etl [--rows 1000000] [--columns 50] [--driver-memory 4g]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.local_spark import local_session
from tasks.core import Layout, PipelineSpec, parse_spec
from tasks.data import run_etl, run_materialize, run_validate

DS = "2026-11-21"
ROWS_PER_FILE = 1_000_000
# Shares of rows the generator leaves unlabelled or repeats, so the row checks and the
# dedup do real work.
NULL_TARGET_SHARE = 0.001
DUPLICATE_SHARE = 0.001


def bench_spec(columns: int) -> PipelineSpec:
    features = {f"f{i:02d}": "double" for i in range(columns - 2)}
    return parse_spec(
        {
            "name": "bench_etl",
            "start_date": "2026-11-01",
            "source": {"path": "{storage_root}/raw/bench_etl/ds={ds}", "format": "parquet"},
            "schema": {
                "key": "id",
                "target": "y",
                "columns": {"id": "long", **features, "y": "double"},
            },
            "derived_features": {"f00_f01": "f00 * f01"},
            "task": "regression",
            "metric": "rmse",
            "search_space": {"max_depth": {"type": "int", "low": 3, "high": 8}},
            "gpu": "off",
        }
    )


def generate(spark: Any, target: Path, rows: int, columns: int) -> None:
    from pyspark.sql import functions as F

    features = [F.randn(seed=i).alias(f"f{i:02d}") for i in range(columns - 2)]
    frame = spark.range(rows, numPartitions=max(1, rows // ROWS_PER_FILE)).select(
        F.when(F.rand(seed=7) < DUPLICATE_SHARE, F.col("id") - 1)
        .otherwise(F.col("id"))
        .alias("id"),
        *features,
    )
    signal = 3 * F.col("f00") - 2 * F.col("f01") * F.col("f02") + F.sin(F.col("f03"))
    y = F.when(F.rand(seed=8) < NULL_TARGET_SHARE, F.lit(None)).otherwise(signal + F.randn(seed=9))
    frame.withColumn("y", y.cast("double")).write.mode("overwrite").parquet(str(target))


def jvm_pid(spark: Any) -> int:
    return int(spark._jvm.java.lang.ProcessHandle.current().pid())


def reset_peak(pid: int) -> None:
    """Restart a process's peak RSS count (Linux: writing 5 to clear_refs)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(stage: str, rows: int, pids: dict[str, int], work: Callable[[], Any]) -> dict[str, Any]:
    for pid in pids.values():
        reset_peak(pid)
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    peaks = {name: round(peak_mb(pid), 1) for name, pid in pids.items()}
    return {
        "stage": stage,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(sum(peaks.values()), 1),
        **{f"peak_{name}_mb": value for name, value in peaks.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.etl",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=50, help="including id and y")
    parser.add_argument("--driver-memory", default="4g", help="Spark driver (local mode) heap")
    parser.add_argument("--root", type=Path, help="storage root (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.columns < 6:
        parser.error("--columns must be at least 6 (id, y and the 4 features y depends on)")
    root = args.root or Path(tempfile.mkdtemp(prefix="retune-bench-etl-"))
    spec = bench_spec(args.columns)
    layout = Layout(root, spec.name, DS)
    print(json.dumps({"config": {**vars(args), "root": str(root)}}, default=str), flush=True)

    spark = local_session("retune-bench-etl", args.driver_memory)
    pids = {"python": os.getpid(), "jvm": jvm_pid(spark)}
    rows = args.rows
    raw = Path(spec.source_path(str(layout.root), DS))
    try:
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("generate", lambda: generate(spark, raw, rows, args.columns)),
            ("etl", lambda: run_etl(spark, spec, DS, str(root))),
            ("validate", lambda: run_validate(spark, spec, layout.ds, str(layout.root))),
            ("materialize", lambda: run_materialize(spec, layout)),
        ]
        for stage, work in steps:
            print(json.dumps(measure(stage, rows, pids, work)), flush=True)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
