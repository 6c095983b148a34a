"""The scheduled daily run through the real Airflow (see conftest.py), real local Spark and
the real MySQL as the Optuna storage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
import xgboost as xgb

from tasks.core import CARD_FILE, MANIFEST, MODEL_FILE, read_run_spec
from tasks.model import load_snapshot
from tasks.model.metrics import rmse
from tasks.tuning import study_name
from tests.e2e.conftest import DASHBOARD, N_TRIALS, ROWS, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.mysql]


@pytest.fixture(scope="module")
def run(stack: Stack, scheduled_run: dict[str, Any]) -> dict[str, Any]:
    ds = str(scheduled_run["logical_date"])[:10]
    return {
        "spec": stack.spec,
        "layout": stack.layout(ds),
        "ds": ds,
        "logs": stack.logs,
        "airflow_db": stack.airflow_db,
        "stack": stack,
        "dag_run": scheduled_run,
    }


def test_the_scheduler_made_the_run_of_the_latest_complete_day(run: dict[str, Any]) -> None:
    assert run["dag_run"]["run_type"] == "scheduled" and run["dag_run"]["state"] == "success"


def test_manifest_counts_every_generated_row(run: dict[str, Any]) -> None:
    manifest = json.loads((run["layout"].dataset_dir / MANIFEST).read_text())
    assert sum(manifest["rows"].values()) == ROWS
    assert manifest["rows_read"] == ROWS and manifest["quarantined"] == 0
    assert manifest["engine"] == "spark-cpu"
    assert manifest["validation"]["success"] is True
    assert Path(manifest["validation"]["data_docs"]).is_file()


def test_materialize_emitted_the_snapshot_asset_event(run: dict[str, Any]) -> None:
    rows = run["stack"].query(
        "SELECT asset.name, asset_event.extra FROM asset_event "
        "JOIN asset ON asset.id = asset_event.asset_id"
    )
    events = [
        json.loads(extra)
        for name, extra in rows
        if name == "retune_demo_regression_snapshot" and json.loads(extra)["ds"] == run["ds"]
    ]
    assert len(events) == 1  # one per published snapshot
    assert events[0]["path"] == str(run["layout"].dataset_dir)
    assert sum(events[0]["rows"].values()) == ROWS


def test_study_on_mysql_holds_exactly_the_budget_from_both_parallel_workers(
    run: dict[str, Any], mysql_url: str
) -> None:
    study = optuna.load_study(study_name=study_name(run["spec"].name, run["ds"]), storage=mysql_url)
    trials = study.get_trials()
    assert len(trials) == N_TRIALS
    states = {t.state.name for t in trials}
    assert "COMPLETE" in states and states <= {"COMPLETE", "PRUNED"}
    workers: dict[str, list[Any]] = {}
    for trial in trials:
        workers.setdefault(trial.user_attrs["retune"]["worker"].split(".")[0], []).append(trial)
    assert set(workers) == {"w0", "w1"}
    # The two mapped tune tasks ran at the same time: their trial spans overlap.
    spans = {
        w: (min(t.datetime_start for t in ts), max(t.datetime_complete for t in ts))
        for w, ts in workers.items()
    }
    assert spans["w0"][0] < spans["w1"][1] and spans["w1"][0] < spans["w0"][1]


def test_exported_model_predicts_with_the_recorded_metric(run: dict[str, Any]) -> None:
    layout, spec = run["layout"], run["spec"]
    card = json.loads((layout.model_dir / CARD_FILE).read_text())
    booster = xgb.Booster(model_file=str(layout.model_dir / MODEL_FILE))
    snapshot = load_snapshot(layout.dataset_dir, spec)
    pred = booster.predict(xgb.DMatrix(snapshot.x_valid, feature_names=snapshot.features))
    assert len(pred) == card["data"]["rows"]["valid"]
    assert rmse(snapshot.y_valid, pred) == pytest.approx(card["metric"]["value"], rel=1e-6)
    assert card["study"]["storage"] == "mysql"


def test_export_ran_as_a_spark_job_and_returned_its_summary(run: dict[str, Any]) -> None:
    layout = run["layout"]
    summary = run["stack"].xcoms("export", run["ds"])[(-1, "return_value")]
    card = json.loads((layout.model_dir / CARD_FILE).read_text())
    assert summary["value"] == card["metric"]["value"] and summary["promoted"] is True
    assert summary["report"] == str(layout.model_dir / "report.html")
    assert card["run_id"] == summary["run_id"] and card["run_id"]
    export_logs = [p for p in run["logs"].rglob("*.log") if "task_id=export" in str(p)]
    assert any("export_job.py" in p.read_text(errors="replace") for p in export_logs)


def test_every_task_of_the_run_used_the_one_resolved_spec(run: dict[str, Any]) -> None:
    layout = run["layout"]
    card = json.loads((layout.model_dir / CARD_FILE).read_text())
    run_spec = read_run_spec(layout.run_spec_file(card["run_id"]))
    assert run_spec.spec.tuning.n_trials == N_TRIALS
    assert card["spec_sha256"] == run_spec.sha256
    tasks = {"etl": [-1], "validate": [-1], "materialize": [-1], "create_study": [-1]}
    for task_id, indexes in {**tasks, "tune": [0, 1], "export": [-1]}.items():
        values = run["stack"].xcoms(task_id, run["ds"])
        for index in indexes:
            assert values[(index, "spec_sha256")] == run_spec.sha256, (task_id, index)


def test_tune_and_export_link_to_the_report_and_the_dashboard(
    run: dict[str, Any], mysql_url: str
) -> None:
    ds = run["ds"]
    report = f"/retune/storage/models/demo_regression/ds={ds}/report.html"
    storage = optuna.storages.RDBStorage(mysql_url)
    study_id = storage.get_study_id_from_name(study_name(run["spec"].name, ds))
    dashboard = f"{DASHBOARD}/dashboard/studies/{study_id}"
    for task_id, indexes in (("export", [-1]), ("tune", [0, 1])):
        values = run["stack"].xcoms(task_id, ds)
        for index in indexes:
            assert values[(index, "_link_ReportLink")] == report
            assert values[(index, "_link_DashboardLink")] == dashboard


def test_the_report_shows_every_stage_timing(run: dict[str, Any]) -> None:
    page = (run["layout"].model_dir / "report.html").read_text()
    for task in ("etl", "validate", "materialize", "create_study", "tune[0]", "tune[1]"):
        assert f"<tr><td>{task}</td><td>1</td>" in page, task
