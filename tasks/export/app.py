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

from tasks.core import Layout, names, parse_spec
from tasks.export.mlflow_log import mlflow_environment
from tasks.spark import job_spec, stage_parser, stage_session, storage_url_from_environment
from tasks.tuning.storage import STORAGE_ENV, open_storage

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from tasks.core import PipelineSpec


def run_export(
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
        from tasks.export.best_model import export_best
        from tasks.export.segments import export_segments

        os.environ.update(environment)
        local_spec = parse_spec(spec_data)
        layout = Layout(Path(storage_root), local_spec.name, ds)
        export = export_best if local_spec.segments is None else export_segments
        yield export(local_spec, layout, open_storage(storage_url), storage_kind, run_id)

    rdd = spark.sparkContext.parallelize([0], 1)
    return dict(rdd.mapPartitionsWithIndex(work).collect()[0])


def main(argv: list[str]) -> None:
    parser = stage_parser("retune-export")
    parser.add_argument("--storage-kind", required=True)
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)
    storage_url = storage_url_from_environment(STORAGE_ENV)
    spec = job_spec(args)
    with stage_session(names.EXPORT, spec, args.ds, args.storage_root) as spark:
        summary = run_export(
            spark, spec, args.ds, args.storage_root, storage_url, args.storage_kind, args.run_id
        )
        print(json.dumps({"export": summary}))


def score_main(argv: list[str]) -> None:
    """Score a ds partition with a model folder (default: the pipeline's champion)."""
    from tasks.export.scoring import champion_folder, load_model, score_partition

    parser = stage_parser("retune-score")
    parser.add_argument("--model", help="a model folder; default: the champion's")
    args = parser.parse_args(argv)
    spec = job_spec(args)
    if spec.segments is not None and not args.model:
        from tasks.export.scoring import score_segmented_partition

        with stage_session("score", spec, args.ds, args.storage_root) as spark:
            print(json.dumps(score_segmented_partition(spark, spec, args.ds, args.storage_root)))
        return
    model = load_model(args.model or champion_folder(args.storage_root, spec.name))
    with stage_session("score", spec, args.ds, args.storage_root) as spark:
        print(json.dumps(score_partition(spark, spec, args.ds, args.storage_root, model)))
