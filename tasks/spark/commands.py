"""Pure builders of what each Spark stage submits: application file, arguments, conf.

Every Retune Spark application has one shape: ``tasks/jobs/<stage>_job.py`` calls its
stage module's ``main(argv)``, which parses :func:`stage_parser`'s arguments (plus its
own), reads the spec with :func:`job_spec` and calls ``run_<stage>(spark, spec, ds,
storage_root, ...)``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from tasks.core import PipelineSpec, TuningSpec

JOBS_DIR = Path(__file__).resolve().parents[1] / "jobs"


def job_file(job: str) -> str:
    """The file spark-submit runs for ``job``: ``etl``, ``validate``, ``tune`` or ``export``."""
    path = JOBS_DIR / f"{job}_job.py"
    if not path.is_file():
        raise ValueError(f"no Spark job named {job!r} ({path} does not exist)")
    return str(path)


def stage_args(
    spec_path: str, ds: str, storage_root: str, overrides: dict[str, Any] | None = None
) -> list[str]:
    """Arguments of every stage job (tune and export add their own).

    ``spec_path``: the run's resolved spec (``spec.json``), or a pipeline spec YAML with
    ``overrides``, the run's parameters.
    """
    args = ["--spec", spec_path, "--ds", ds, "--storage-root", storage_root]
    if overrides:
        args += ["--overrides", json.dumps(overrides, sort_keys=True)]
    return args


def ds_argument(value: str) -> str:
    """``--ds``, checked before a job starts Spark (it names folders and the study)."""
    from tasks.core import RetuneError, check_ds

    try:
        return check_ds(value)
    except RetuneError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def stage_parser(prog: str) -> argparse.ArgumentParser:
    """The parser of :func:`stage_args`, for each job's ``main``."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--ds", required=True, type=ds_argument)
    parser.add_argument("--storage-root", required=True)
    parser.add_argument("--overrides", default="{}", help="run parameters, as JSON")
    return parser


def job_spec(args: argparse.Namespace) -> PipelineSpec:
    """The spec a job runs with: the run's resolved spec, or a YAML with ``--overrides``."""
    from tasks.core import read_spec_file

    return read_spec_file(args.spec, json.loads(args.overrides))


@contextmanager
def stage_session(
    stage: str, spec: PipelineSpec, ds: str, storage_root: str, suffix: str = ""
) -> Iterator[SparkSession]:
    """The job's SparkSession, named ``retune-<stage>-<pipeline>-<ds><suffix>``; stopped after.

    Its OpenLineage events, when the submitting task asked for them
    (:mod:`tasks.spark.lineage`), cover the work done inside.
    """
    from pyspark.sql import SparkSession

    from tasks.spark.lineage import application_lineage

    name = f"retune-{stage}-{spec.name}-{ds}{suffix}"
    spark = SparkSession.builder.appName(name).getOrCreate()
    try:
        with application_lineage(spark, stage, spec, ds, storage_root):
            yield spark
    finally:
        spark.stop()


def storage_url_from_environment(env: str) -> str:
    """The Optuna storage URL a job gets through ``env`` (never on its command line)."""
    from tasks.core import RetuneError

    url = os.environ.get(env)
    if not url:
        raise RetuneError(f"environment variable {env} (the Optuna storage URL) is not set")
    return url


def tune_args(
    spec_path: str,
    ds: str,
    storage_root: str,
    map_index: int,
    spark_tasks: int,
    try_number: int,
    overrides: dict[str, Any] | None = None,
) -> list[str]:
    return [
        *stage_args(spec_path, ds, storage_root, overrides),
        "--map-index",
        str(map_index),
        "--spark-tasks",
        str(spark_tasks),
        "--try-number",
        str(try_number),
    ]


def base_conf(python: str) -> dict[str, str]:
    """Conf every Retune application gets: the interpreter that has ``tasks`` installed."""
    return {
        "spark.pyspark.python": python,
        "spark.pyspark.driver.python": python,
        "spark.ui.showConsoleProgress": "false",
    }


def export_args(
    spec_path: str,
    ds: str,
    storage_root: str,
    storage_kind: str,
    run_id: str | None,
    overrides: dict[str, Any] | None = None,
) -> list[str]:
    args = [*stage_args(spec_path, ds, storage_root, overrides), "--storage-kind", storage_kind]
    return args + (["--run-id", run_id] if run_id else [])


def gpu_request(gpu: str) -> dict[str, str]:
    """In ``on`` mode each task asks for one GPU; ``auto`` uses one if the executor sees it."""
    if gpu != "on":
        return {}
    return {
        "spark.executor.resource.gpu.amount": "1",
        "spark.task.resource.gpu.amount": "1",
    }


def memory_request(executor_memory: str | None, nthread: int) -> dict[str, str]:
    """Executors of one worker each: ``nthread`` cores and the worker's memory.

    The worker's memory goes in ``spark.executor.memory``, the one figure every cluster
    manager (standalone included) places executors by, so two workers are never packed
    where one fits.
    """
    if executor_memory is None:
        return {}
    return {"spark.executor.memory": executor_memory, "spark.executor.cores": str(nthread)}


def export_conf(
    python: str, tuning: TuningSpec, gpu: str, executor_memory: str | None = None
) -> dict[str, str]:
    """One Spark task retrains the best trial with ``nthread`` cores (and a GPU when on)."""
    return {
        **base_conf(python),
        "spark.speculation": "false",
        "spark.task.cpus": str(tuning.nthread),
        "spark.cores.max": str(tuning.nthread),
        "spark.task.maxFailures": "1",
        **memory_request(executor_memory, tuning.nthread),
        **gpu_request(gpu),
    }


def tune_conf(
    python: str, tuning: TuningSpec, gpu: str, executor_memory: str | None = None
) -> dict[str, str]:
    """One Optuna worker per Spark task, each with ``nthread`` cores (and one GPU when on).

    No speculation (it would run a worker twice); ``spark.cores.max`` keeps one
    application from taking a whole standalone cluster, so the mapped applications run
    side by side. ``executor_memory`` (see :func:`memory_request`) sizes each executor
    for one worker. In GPU ``auto`` mode no GPU is requested: the worker uses one if its
    executor sees it.
    """
    tasks = tuning.spark_tasks_per_worker
    conf = {
        **base_conf(python),
        "spark.speculation": "false",
        "spark.default.parallelism": str(tasks),
        "spark.task.cpus": str(tuning.nthread),
        "spark.cores.max": str(tasks * tuning.nthread),
        **memory_request(executor_memory, tuning.nthread),
        **gpu_request(gpu),
    }
    return conf
