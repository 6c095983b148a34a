"""OpenLineage events of a real run, written by the provider's file transport."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tasks.core import Layout
from tests.e2e.conftest import FLIGHTS_DAG_ID, FLIGHTS_DS, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.mysql]


def completed(stack: Stack, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's COMPLETE events by task id."""
    events = {}
    for path in sorted(stack.lineage.glob("event-*.json")):
        event = json.loads(path.read_text())
        facets = event.get("run", {}).get("facets", {})
        airflow_run = (facets.get("airflow") or {}).get("dagRun") or {}
        if event.get("eventType") == "COMPLETE" and airflow_run.get("run_id") == run_id:
            events[event["job"]["name"].removeprefix(f"{FLIGHTS_DAG_ID}.")] = event
    return events


def names(datasets: list[dict[str, Any]]) -> list[str]:
    assert all(d["namespace"] == "file" for d in datasets)
    return [d["name"] for d in datasets]


def test_the_stages_lineage_runs_from_the_raw_partition_to_the_model(
    stack: Stack, flights_run: dict[str, Any]
) -> None:
    events = completed(stack, flights_run["run"]["run_id"])
    assert {"etl", "validate", "materialize", "export"} <= set(events), sorted(events)
    layout = Layout(stack.storage, "flights_delay", FLIGHTS_DS)
    raw = layout.root / "raw" / "flights_delay" / f"ds={FLIGHTS_DS}"
    assert names(events["etl"]["inputs"]) == [str(raw)]
    assert names(events["etl"]["outputs"]) == [str(layout.staging_dir)]
    assert names(events["validate"]["inputs"]) == [str(layout.staging_dir)]
    assert names(events["materialize"]["inputs"]) == [str(layout.staging_dir)]
    assert names(events["materialize"]["outputs"]) == [str(layout.dataset_dir)]
    assert names(events["export"]["inputs"]) == [str(layout.dataset_dir)]
    assert names(events["export"]["outputs"]) == [str(layout.model_dir)]
