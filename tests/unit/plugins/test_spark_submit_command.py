"""The exact spark-submit command line each Spark stage submits."""

from __future__ import annotations

import json

import pytest
from retune.hooks import RetuneSparkSubmitHook, optuna_storage_url

from tasks import spark as jobs
from tasks.core import TuningSpec
from tasks.tuning.storage import STORAGE_ENV
from tests.conftest import DEMO_SPEC

PY = "/venv/bin/python"


@pytest.fixture
def no_spark_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SPARK_DEFAULT", raising=False)


def build(conf: dict[str, str], args: list[str], job: str, **kwargs: object) -> list[str]:
    hook = RetuneSparkSubmitHook(conf=conf, application_args=args, name="n", **kwargs)  # type: ignore[arg-type]
    return hook._build_spark_submit_command(jobs.job_file(job))


def test_etl_command_defaults_to_local_master(no_spark_connection: None) -> None:
    command = build(
        jobs.base_conf(PY), jobs.stage_args("/specs/d.yaml", "2026-11-21", "/st"), "etl"
    )
    assert command[1:] == [
        "--master",
        "local[*]",
        "--conf",
        f"spark.pyspark.python={PY}",
        "--conf",
        f"spark.pyspark.driver.python={PY}",
        "--conf",
        "spark.ui.showConsoleProgress=false",
        "--name",
        "n",
        jobs.job_file("etl"),
        "--spec",
        "/specs/d.yaml",
        "--ds",
        "2026-11-21",
        "--storage-root",
        "/st",
    ]
    assert command[0].endswith("spark-submit")


def test_tune_command_uses_the_spark_connection_and_keeps_the_storage_url_off_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPARK_DEFAULT",
        json.dumps({"conn_type": "spark", "host": "spark://master", "port": 7077}),
    )
    secret_url = "mysql+pymysql://u:topsecret@db/optuna"
    command = build(
        jobs.tune_conf(PY, TuningSpec(n_trials=8, spark_tasks_per_worker=2, nthread=2), "auto"),
        jobs.tune_args("/specs/d.yaml", "2026-11-21", "/st", 1, 2, 1),
        "tune",
        env_vars={STORAGE_ENV: secret_url},
    )
    assert command[1:] == [
        "--master",
        "spark://master:7077",
        "--conf",
        f"spark.pyspark.python={PY}",
        "--conf",
        f"spark.pyspark.driver.python={PY}",
        "--conf",
        "spark.ui.showConsoleProgress=false",
        "--conf",
        "spark.speculation=false",
        "--conf",
        "spark.default.parallelism=2",
        "--conf",
        "spark.task.cpus=2",
        "--conf",
        "spark.cores.max=4",
        "--name",
        "n",
        jobs.job_file("tune"),
        "--spec",
        "/specs/d.yaml",
        "--ds",
        "2026-11-21",
        "--storage-root",
        "/st",
        "--map-index",
        "1",
        "--spark-tasks",
        "2",
        "--try-number",
        "1",
    ]
    assert not any("topsecret" in part for part in command)


def test_tune_conf_asks_for_one_gpu_per_worker_only_when_gpu_is_on() -> None:
    tuning = TuningSpec(n_trials=8, spark_tasks_per_worker=3)
    gpu_keys = {"spark.executor.resource.gpu.amount", "spark.task.resource.gpu.amount"}
    on = jobs.tune_conf(PY, tuning, "on")
    assert {k: on[k] for k in gpu_keys} == dict.fromkeys(gpu_keys, "1")
    assert on["spark.cores.max"] == "3"
    for mode in ("auto", "off"):
        assert gpu_keys.isdisjoint(jobs.tune_conf(PY, tuning, mode))


def test_export_runs_one_task_with_the_trial_threads_and_a_gpu_only_when_on() -> None:
    tuning = TuningSpec(n_trials=8, nthread=2)
    conf = jobs.export_conf(PY, tuning, "on")
    assert conf["spark.task.cpus"] == "2" and conf["spark.cores.max"] == "2"
    assert conf["spark.task.resource.gpu.amount"] == "1"
    assert "spark.task.resource.gpu.amount" not in jobs.export_conf(PY, tuning, "auto")
    args = jobs.export_args("/s.yaml", "2026-11-21", "/st", "mysql", "manual__1", {"gpu": "off"})
    assert args[-4:] == ["--storage-kind", "mysql", "--run-id", "manual__1"]
    assert "--run-id" not in jobs.export_args("/s.yaml", "2026-11-21", "/st", "journal", None)


def test_a_job_runs_with_the_run_parameters_the_operator_saw() -> None:
    overrides = {"gpu": "on", "n_trials": 7}
    args = jobs.stage_args(str(DEMO_SPEC), "2026-11-21", "/st", overrides)
    spec = jobs.job_spec(jobs.stage_parser("t").parse_args(args))
    assert spec.gpu == "on" and spec.tuning.n_trials == 7
    plain = jobs.job_spec(
        jobs.stage_parser("t").parse_args(jobs.stage_args(str(DEMO_SPEC), "2026-11-21", "/st"))
    )
    assert plain.tuning.n_trials != 7


def test_optuna_storage_comes_from_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_OPTUNA_DEFAULT", raising=False)
    url, kind = optuna_storage_url("optuna_default", "/st")
    assert (url, kind) == ("journal:///st/optuna/journal.log", "journal")
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPTUNA_DEFAULT",
        json.dumps(
            {
                "conn_type": "mysql",
                "host": "db",
                "login": "retune",
                "password": "p@ss/word",
                "schema": "optuna",
            }
        ),
    )
    url, kind = optuna_storage_url("optuna_default", "/st")
    assert (url, kind) == ("mysql+pymysql://retune:p%40ss%2Fword@db:3306/optuna", "mysql")
