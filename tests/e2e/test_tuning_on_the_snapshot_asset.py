"""``tuning.trigger: snapshot_asset`` through the real Airflow: the data DAG publishes a
snapshot, its Asset event starts the tuning DAG for that day; the tuning DAG run by hand
tunes the day its ``ds`` names, and refuses a day without a snapshot."""

from __future__ import annotations

import json
from typing import Any

import optuna
import pandas as pd
import pytest

from tasks.core import Layout, alerts_file, champion_pointer
from tasks.export import load_model, score_frame
from tasks.export.history import read_history
from tasks.tuning import study_name
from tests.e2e.conftest import (
    SNAPSHOT_DAG_ID,
    SNAPSHOT_PIPELINE,
    SNAPSHOT_TRIALS,
    SNAPSHOT_TUNING_DAG_ID,
    Stack,
)

pytestmark = [pytest.mark.e2e, pytest.mark.mysql]


def task_ids(stack: Stack, dag_id: str, run_id: str) -> set[str]:
    rows = stack.query(
        "SELECT task_id FROM task_instance WHERE dag_id = ? AND run_id = ?", dag_id, run_id
    )
    return {str(task) for (task,) in rows}


def test_a_published_snapshot_starts_the_tuning_dag_for_its_day(
    stack: Stack, snapshot_runs: dict[str, Any], mysql_url: str
) -> None:
    ds, data_run, tuned = snapshot_runs["ds"], snapshot_runs["data_run"], snapshot_runs["triggered"]
    assert task_ids(stack, SNAPSHOT_DAG_ID, data_run["run_id"]) == {
        "etl",
        "validate",
        "materialize",
    }
    assert tuned["run_type"] == "asset_triggered" and tuned["logical_date"] is None
    assert task_ids(stack, SNAPSHOT_TUNING_DAG_ID, tuned["run_id"]) == {
        "create_study",
        "tune",
        "export",
    }
    layout = Layout(stack.storage, SNAPSHOT_PIPELINE, ds)
    card = snapshot_runs["card_after_event"]
    assert card["ds"] == ds and card["run_id"] == tuned["run_id"]
    manifest = json.loads(layout.manifest_file.read_text())
    assert card["data"]["content_hash"] == manifest["content_hash"]
    # The day's report has the stages of both DAGs' runs.
    timings = {path.stem for path in layout.timings_dir.glob("*.json")}
    assert {"etl", "validate", "materialize", "create_study", "tune.0", "export"} <= timings
    first = read_history(layout.history_file)[0].model_dump()
    assert first["ds"] == ds and first["run_id"] == tuned["run_id"]
    assert first["trials"]["complete"] == SNAPSHOT_TRIALS


def test_the_tuning_dag_run_by_hand_tunes_the_day_its_ds_names(
    stack: Stack, snapshot_runs: dict[str, Any], mysql_url: str
) -> None:
    ds = snapshot_runs["ds"]
    by_hand = snapshot_runs["by_hand"][ds]
    layout = Layout(stack.storage, SNAPSHOT_PIPELINE, ds)
    card = json.loads(layout.card_file.read_text())
    assert card["ds"] == ds and card["run_id"] == by_hand["run_id"]
    # The same day's study, resumed with the larger budget of the run's conf.
    study = optuna.load_study(study_name=study_name(SNAPSHOT_PIPELINE, ds), storage=mysql_url)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == SNAPSHOT_TRIALS + 2
    pointer = json.loads(champion_pointer(stack.storage, SNAPSHOT_PIPELINE).read_text())
    assert pointer["ds"] == ds
    raw = pd.read_csv(layout.root / "raw" / SNAPSHOT_PIPELINE / f"ds={ds}" / "part-00000.csv")
    predictions = score_frame(load_model(layout.model_dir), raw)
    assert len(predictions) == len(raw) and pd.notna(predictions).all()
    assert [entry.run_id for entry in read_history(layout.history_file)] == [
        snapshot_runs["triggered"]["run_id"],
        by_hand["run_id"],
    ]


def test_a_tuning_run_for_a_day_without_a_snapshot_fails_naming_it(
    stack: Stack, snapshot_runs: dict[str, Any]
) -> None:
    missing = snapshot_runs["missing"]
    failed = snapshot_runs["by_hand"][missing]
    assert failed["state"] == "failed"
    alerts = [
        json.loads(line)
        for line in alerts_file(stack.storage, SNAPSHOT_PIPELINE).read_text().splitlines()
    ]
    (alert,) = [a for a in alerts if a["event"] == "task_failed" and a["ds"] == missing]
    assert alert["task_id"] == "create_study" and alert["try_number"] == 1
    assert "no published snapshot" in alert["message"]
    assert f"run {SNAPSHOT_DAG_ID} for {missing} to publish it" in alert["message"]
    assert not Layout(stack.storage, SNAPSHOT_PIPELINE, missing).model_dir.exists()
