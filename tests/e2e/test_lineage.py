"""OpenLineage events of a real run, written by the provider's file transport: each task's,
and each Spark application's, a child run of the task that submitted it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tasks.core import Layout
from tests.e2e.conftest import FLIGHTS_DAG_ID, FLIGHTS_DS, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.mysql]


def all_events(stack: Stack) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(stack.lineage.glob("event-*.json"))]


def task_events(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    """The run's tasks' COMPLETE events (one per mapped task instance)."""
    events = []
    for event in all_events(stack):
        facets = event.get("run", {}).get("facets", {})
        airflow_run = (facets.get("airflow") or {}).get("dagRun") or {}
        if event.get("eventType") == "COMPLETE" and airflow_run.get("run_id") == run_id:
            events.append(event)
    return events


def completed(stack: Stack, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's COMPLETE events by task id."""
    return {
        event["job"]["name"].removeprefix(f"{FLIGHTS_DAG_ID}."): event
        for event in task_events(stack, run_id)
    }


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


def test_each_spark_job_emits_its_own_events_as_a_child_of_its_task(
    stack: Stack, flights_run: dict[str, Any]
) -> None:
    tasks = task_events(stack, flights_run["run"]["run_id"])
    children: dict[str, list[dict[str, Any]]] = {}
    for event in all_events(stack):
        if event["job"]["name"].endswith(".spark_application"):
            parent = event["run"]["facets"]["parent"]["run"]["runId"]
            children.setdefault(parent, []).append(event)
    spark_tasks = [
        task
        for task in tasks
        if task["job"]["name"].removeprefix(f"{FLIGHTS_DAG_ID}.")
        in ("etl", "validate", "tune", "export")
    ]
    assert len(spark_tasks) >= 4, [task["job"]["name"] for task in tasks]
    for task in spark_tasks:
        name = task["job"]["name"]
        events = children.get(task["run"]["runId"], [])
        assert [e["eventType"] for e in events] == ["START", "COMPLETE"], name
        start, complete = events
        assert start["run"]["runId"] == complete["run"]["runId"]
        assert complete["job"]["name"] == f"{name}.spark_application"
        assert complete["job"]["facets"]["jobType"]["integration"] == "SPARK"
        assert complete["run"]["facets"]["parent"]["job"]["name"] == name
        # The application read and wrote what its task says it did.
        assert names(complete["inputs"]) == names(task["inputs"]), name
        assert names(complete["outputs"]) == names(task["outputs"]), name
