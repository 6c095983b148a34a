"""Tuning Spark application: K Spark tasks, each an Optuna worker on the shared study.

The storage URL comes from the environment (it may hold a password) and reaches the
executors inside the task closure, never on a command line.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import Layout, names, parse_spec, resolve_device
from tasks.model import plan_segments, read_manifest, training_device
from tasks.spark import job_spec, stage_parser, stage_session, storage_url_from_environment
from tasks.tuning.seeds import worker_seed
from tasks.tuning.storage import STORAGE_ENV, Heartbeat, open_storage
from tasks.tuning.study import study_name
from tasks.tuning.worker import WorkerIdentity, run_worker

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from tasks.core import PipelineSpec, SnapshotManifest


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


def run_studies(spec: PipelineSpec, ds: str, manifest: SnapshotManifest) -> dict[str, str | None]:
    """The run's studies, name -> segment: the pipeline's (all rows), and with segments one
    per segment that gets its own model."""
    studies: dict[str, str | None] = {study_name(spec.name, ds): None}
    for segment in plan_segments(spec, manifest).tuned:
        studies[study_name(spec.name, ds, segment)] = segment
    return studies


def run_tune(
    spark: SparkSession,
    spec: PipelineSpec,
    ds: str,
    storage_root: str,
    storage_url: str,
    map_index: int,
    spark_tasks: int,
    try_number: int,
) -> list[dict[str, Any]]:
    layout = Layout(Path(storage_root), spec.name, ds)
    dataset_dir = str(layout.dataset_dir)
    manifest = read_manifest(dataset_dir)  # fail on the driver, before any executor starts
    studies = run_studies(spec, ds, manifest)
    checkpoints = {
        segment: layout.for_segment(segment).checkpoints_dir for segment in studies.values()
    }
    spec_data = spec.model_dump(by_alias=True, mode="json")

    def work(partition: int, _rows: Iterable[int]) -> Iterator[dict[str, Any]]:
        from pyspark import TaskContext

        context = TaskContext.get()
        spark_attempt = context.attemptNumber() if context else 0
        local_spec = parse_spec(spec_data)
        yield run_worker(
            open_storage(storage_url, worker_heartbeat(local_spec)),
            studies,
            local_spec,
            dataset_dir,
            worker_identity(local_spec, map_index, partition, try_number * 1000 + spark_attempt),
            checkpoint_dirs=checkpoints,
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
    args = parse_args(argv)
    storage_url = storage_url_from_environment(STORAGE_ENV)
    spec = job_spec(args)
    with stage_session(names.TUNE, spec, args.ds, args.storage_root, f"-{args.map_index}") as spark:
        workers = run_tune(
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
