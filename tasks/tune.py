"""Tuning Spark application: K Spark tasks, each an Optuna worker on the shared study.

The storage URL comes from the environment (it may hold a password) and reaches the
executors inside the task closure, never on a command line.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.devices import resolve_device
from tasks.errors import RetuneError
from tasks.layout import Layout
from tasks.optuna_storage import STORAGE_ENV, Heartbeat, open_storage
from tasks.seeds import worker_seed
from tasks.spark_commands import job_spec, stage_parser
from tasks.spec import parse_spec
from tasks.study import study_name
from tasks.training import read_manifest, training_device
from tasks.worker import WorkerIdentity, run_worker

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from tasks.spec import PipelineSpec


def worker_heartbeat(spec: PipelineSpec) -> Heartbeat:
    tuning = spec.tuning
    return Heartbeat(tuning.heartbeat_seconds, tuning.stale_after_seconds, tuning.max_trial_retries)


def worker_identity(
    spec: PipelineSpec, map_index: int, partition: int, attempt: int
) -> WorkerIdentity:
    """Who a worker is: its seed comes from all of (base seed, map index, partition, attempt)."""
    return WorkerIdentity(
        map_index=map_index,
        partition=partition,
        attempt=attempt,
        seed=worker_seed(spec.tuning.seed, map_index, partition, attempt),
        device=training_device(spec.gpu, resolve_device(spec.gpu)),
    )


def run(
    spark: SparkSession,
    spec: PipelineSpec,
    ds: str,
    storage_root: str,
    storage_url: str,
    map_index: int,
    spark_tasks: int,
    try_number: int,
) -> list[dict[str, Any]]:
    dataset_dir = str(Layout(Path(storage_root), spec.name, ds).dataset_dir)
    read_manifest(dataset_dir)  # fail on the driver, before any executor starts
    name = study_name(spec.name, ds)
    spec_data = spec.model_dump(by_alias=True, mode="json")

    def work(partition: int, _rows: Iterable[int]) -> Iterator[dict[str, Any]]:
        from pyspark import TaskContext

        context = TaskContext.get()
        spark_attempt = context.attemptNumber() if context else 0
        local_spec = parse_spec(spec_data)
        yield run_worker(
            open_storage(storage_url, worker_heartbeat(local_spec)),
            name,
            local_spec,
            dataset_dir,
            worker_identity(local_spec, map_index, partition, try_number * 1000 + spark_attempt),
        )

    rdd = spark.sparkContext.parallelize(range(spark_tasks), spark_tasks)
    return rdd.mapPartitionsWithIndex(work).collect()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = stage_parser("retune-tune")
    parser.add_argument("--map-index", type=int, required=True)
    parser.add_argument("--spark-tasks", type=int, required=True)
    parser.add_argument("--try-number", type=int, default=1)
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    from pyspark.sql import SparkSession

    args = parse_args(argv)
    storage_url = os.environ.get(STORAGE_ENV)
    if not storage_url:
        raise RetuneError(f"environment variable {STORAGE_ENV} (the Optuna storage URL) is not set")
    spec = job_spec(args)
    spark = SparkSession.builder.appName(
        f"retune-tune-{spec.name}-{args.ds}-{args.map_index}"
    ).getOrCreate()
    try:
        workers = run(
            spark,
            spec,
            args.ds,
            args.storage_root,
            storage_url,
            args.map_index,
            args.spark_tasks,
            args.try_number,
        )
        print(json.dumps({"workers": workers}))
    finally:
        spark.stop()
