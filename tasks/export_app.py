"""Export Spark application: the retrain runs inside one Spark task.

So a large snapshot is read where Spark runs it (a cluster executor, with a GPU when
asked), never on the Airflow worker. The storage URL arrives through the environment
and reaches the task inside its closure, as in tuning.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.errors import RetuneError
from tasks.layout import Layout
from tasks.mlflow_export import mlflow_environment
from tasks.optuna_storage import STORAGE_ENV, open_storage
from tasks.spark_commands import job_spec, stage_parser
from tasks.spec import parse_spec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from tasks.spec import PipelineSpec


def run(
    spark: SparkSession,
    spec: PipelineSpec,
    ds: str,
    storage_root: str,
    storage_url: str,
    storage_kind: str,
    run_id: str | None,
) -> dict[str, Any]:
    spec_data = spec.model_dump(by_alias=True, mode="json")
    environment = mlflow_environment()

    def work(_partition: int, _rows: Iterable[int]) -> Iterator[dict[str, Any]]:
        from tasks.export import export_best

        os.environ.update(environment)
        local_spec = parse_spec(spec_data)
        layout = Layout(Path(storage_root), local_spec.name, ds)
        yield export_best(local_spec, layout, open_storage(storage_url), storage_kind, run_id)

    rdd = spark.sparkContext.parallelize([0], 1)
    return dict(rdd.mapPartitionsWithIndex(work).collect()[0])


def main(argv: list[str]) -> None:
    from pyspark.sql import SparkSession

    parser = stage_parser("retune-export")
    parser.add_argument("--storage-kind", required=True)
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)
    storage_url = os.environ.get(STORAGE_ENV)
    if not storage_url:
        raise RetuneError(f"environment variable {STORAGE_ENV} (the Optuna storage URL) is not set")
    spec = job_spec(args)
    spark = SparkSession.builder.appName(f"retune-export-{spec.name}-{args.ds}").getOrCreate()
    try:
        summary = run(
            spark, spec, args.ds, args.storage_root, storage_url, args.storage_kind, args.run_id
        )
        print(json.dumps({"export": summary}))
    finally:
        spark.stop()
