"""Pure builders of what each Spark stage submits: application file, arguments, conf."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tasks.spec import TuningSpec

JOBS_DIR = Path(__file__).resolve().parent / "jobs"


def job_file(job: str) -> str:
    """The file spark-submit runs for ``job`` (``etl`` or ``tune``)."""
    path = JOBS_DIR / f"{job}_job.py"
    if not path.is_file():
        raise ValueError(f"no Spark job named {job!r} ({path} does not exist)")
    return str(path)


def etl_args(spec_path: str, ds: str, storage_root: str) -> list[str]:
    """Arguments of every stage job (etl, validate; tune adds its own)."""
    return ["--spec", spec_path, "--ds", ds, "--storage-root", storage_root]


def stage_parser(prog: str) -> argparse.ArgumentParser:
    """The parser of :func:`etl_args`, for each job's ``main``."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--ds", required=True)
    parser.add_argument("--storage-root", required=True)
    return parser


def tune_args(
    spec_path: str, ds: str, storage_root: str, map_index: int, spark_tasks: int, try_number: int
) -> list[str]:
    return [
        *etl_args(spec_path, ds, storage_root),
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


def tune_conf(python: str, tuning: TuningSpec, gpu: str) -> dict[str, str]:
    """One Optuna worker per Spark task, each with ``nthread`` cores (and one GPU when on).

    No speculation (it would run a worker twice); ``spark.cores.max`` keeps one
    application from taking a whole standalone cluster, so the mapped applications run
    side by side. In GPU ``auto`` mode no GPU is requested: the worker uses one if its
    executor sees it.
    """
    tasks = tuning.spark_tasks_per_worker
    conf = {
        **base_conf(python),
        "spark.speculation": "false",
        "spark.default.parallelism": str(tasks),
        "spark.task.cpus": str(tuning.nthread),
        "spark.cores.max": str(tasks * tuning.nthread),
    }
    if gpu == "on":
        conf["spark.executor.resource.gpu.amount"] = "1"
        conf["spark.task.resource.gpu.amount"] = "1"
    return conf
