"""The exact spark-submit command line each Spark stage submits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from retune.hooks import RetuneSparkSubmitHook, optuna_storage_url
from retune.operators.tuning import WorkerTooSmall, worker_memory

from bench.staging import publish_synthetic
from tasks import spark as jobs
from tasks.core import (
    Layout,
    PipelineSpec,
    SnapshotManifest,
    SnapshotTooLarge,
    TuningSpec,
    parse_spec,
)
from tasks.model import plan_memory
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


def big_snapshot(tmp_path: Path, spec: PipelineSpec, rows: int) -> Layout:
    """A published-looking manifest of ``rows`` rows x 50 features (no data needed)."""
    layout = Layout(tmp_path, spec.name, "2026-11-21")
    layout.dataset_dir.mkdir(parents=True)
    features = [f"f{i}" for i in range(50)]
    split_rows = {"train": rows * 4 // 5, "valid": rows // 5}
    publish_synthetic(layout.dataset_dir, layout.ds, split_rows, features, digest="")
    return layout


def demo_with(**resources: object) -> PipelineSpec:
    data = yaml.safe_load(DEMO_SPEC.read_text())
    data["resources"] = resources
    return parse_spec(data)


def test_the_tune_command_asks_for_the_memory_the_snapshot_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPARK_DEFAULT",
        json.dumps({"conn_type": "spark", "host": "spark://master", "port": 7077}),
    )
    spec = demo_with()
    memory = worker_memory(spec, big_snapshot(tmp_path, spec, 10_000_000))
    # 400 MiB + 10M x 50 x 3 B + 10M x 48 B + 20,000 x 51 x 24 B x 3 = 2,472,870,400 B
    # = 2,359 MiB for the worker, + 512 MiB for the executor's JVM.
    assert memory.matrix == "in_memory" and memory.executor_memory == "2871m"
    tuning = TuningSpec(n_trials=8, nthread=2)
    command = build(
        jobs.tune_conf(PY, tuning, "off", memory.executor_memory),
        jobs.tune_args("/specs/d.yaml", "2026-11-21", "/st", 0, 1, 1),
        "tune",
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
        "spark.default.parallelism=1",
        "--conf",
        "spark.task.cpus=2",
        "--conf",
        "spark.cores.max=2",
        "--conf",
        "spark.executor.memory=2871m",
        "--conf",
        "spark.executor.cores=2",
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
        "0",
        "--spark-tasks",
        "1",
        "--try-number",
        "1",
    ]
    export = jobs.export_conf(PY, tuning, "off", memory.executor_memory)
    assert (export["spark.executor.memory"], export["spark.executor.cores"]) == ("2871m", "2")


def test_a_snapshot_over_the_budget_trains_in_external_memory_and_asks_for_the_budget(
    tmp_path: Path,
) -> None:
    spec = demo_with(worker_memory_gb=2)
    memory = worker_memory(spec, big_snapshot(tmp_path, spec, 10_000_000))
    # In memory it would need 2,359 MiB; in external memory 400 MiB + 10M x 48 B + pages
    # of 40 MiB of float32 (205,603 rows x 51 x 24 B x 3) = 1,578 MiB. The worker asks
    # for its whole budget, 2,048 MiB, + 512 MiB.
    assert memory.matrix == "external_memory"
    assert memory.as_record() == {
        "matrix": "external_memory",
        "batch_rows": 205_603,
        "estimated_mib": 1578,
        "budget_mib": 2048,
        "budget_from": "resources.worker_memory_gb",
    }
    assert memory.executor_memory == "2560m"


def test_a_tight_budget_gets_smaller_external_memory_pages_not_a_refusal(
    tmp_path: Path,
) -> None:
    """Default pages do not fit 1.2 GiB: the pages shrink to what does (slower rounds),
    on the driver and in the worker alike; a batch size the spec sets is kept as is."""
    spec = demo_with(worker_memory_gb=1.2)
    layout = big_snapshot(tmp_path, spec, 10_000_000)
    memory = worker_memory(spec, layout)
    # (1.2 GiB - 400 MiB - 10M x 48 B) // (51 x 24 B x 3) = 105,953 rows a page.
    assert (memory.matrix, memory.batch_rows) == ("external_memory", 105_953)
    assert memory.need_bytes <= memory.budget_bytes
    assert plan_memory(SnapshotManifest.read(layout.manifest_file), spec) == memory
    pinned = demo_with(worker_memory_gb=1.2, batch_rows=50_000)
    assert worker_memory(pinned, layout).batch_rows == 50_000


def test_a_snapshot_too_large_for_any_worker_fails_before_submit_with_the_figures(
    tmp_path: Path,
) -> None:
    spec = demo_with(max_worker_memory_gb=0.8)
    layout = big_snapshot(tmp_path, spec, 10_000_000)
    with pytest.raises(WorkerTooSmall) as caught:
        worker_memory(spec, layout)
    message = str(caught.value)
    assert "10000000 rows x 50 features" in message
    # Even pages of 20,000 rows: 400 MiB + 10M x 48 B + 20,000 x 51 x 72 B.
    assert "needs about 0.91 GiB per worker in external_memory mode" in message
    assert "(in memory: 2.30 GiB, external memory: 0.91 GiB)" in message
    assert "resources.max_worker_memory_gb = 0.80 GiB" in message
    never = demo_with(external_memory="never", max_worker_memory_gb=2)
    with pytest.raises(SnapshotTooLarge, match="set resources.external_memory: auto"):
        plan_memory(SnapshotManifest.read(layout.manifest_file), never)
