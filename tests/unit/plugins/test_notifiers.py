"""Alerts: the failure callback every task carries, the not-promoted alert of export, the
default notifier's file and a notifier of the spec's choosing."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
import yaml
from airflow.sdk import BaseNotifier

from tasks.core import SpecError, alerts_file
from tests.conftest import demo_spec_data


class Recording(BaseNotifier):
    """A notifier of the user's own, named by its dotted path in the spec."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, channel: str) -> None:
        super().__init__()
        self.channel = channel

    def notify(self, context: Any) -> None:
        Recording.seen.append({"channel": self.channel, **context["retune_alert"]})


def spec_file(tmp_path: Path, **alerts: Any) -> Path:
    path = tmp_path / "demo_regression.yaml"
    path.write_text(yaml.safe_dump({**demo_spec_data(), "alerts": alerts}))
    return path


def failed_context(task_id: str = "etl", map_index: int = -1) -> dict[str, Any]:
    ti = SimpleNamespace(
        task_id=task_id, map_index=map_index, try_number=3, dag_id="retune_demo_regression"
    )
    return {
        "ti": ti,
        "ds": "2026-11-21",
        "run_id": "scheduled__2026-11-21",
        "exception": RuntimeError("raw partition missing"),
    }


def test_every_task_alerts_on_failure_into_the_pipelines_file_and_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from retune.dag_factory import build_dag

    monkeypatch.setenv("RETUNE_STORAGE_ROOT", str(tmp_path / "storage"))
    dag = build_dag(spec_file(tmp_path))
    for task in dag.tasks:
        callbacks = task.on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert len(callbacks) == 1, task.task_id
    (callback,) = dag.get_task("tune").on_failure_callback  # type: ignore[misc]
    callback(failed_context("tune", 1))
    (line,) = alerts_file(tmp_path / "storage", "demo_regression").read_text().splitlines()
    alert = json.loads(line)
    assert alert["event"] == "task_failed" and alert["pipeline"] == "demo_regression"
    assert alert["message"] == "task tune[1] failed after try 3: raw partition missing"
    assert alert["run_id"] == "scheduled__2026-11-21" and alert["ds"] == "2026-11-21"
    # Airflow's structured log: the task's log when a task instance calls it
    assert "Retune alert (task_failed): task tune[1] failed" in capsys.readouterr().out


def test_a_spec_may_turn_failure_alerts_off_or_name_its_own_notifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retune.dag_factory import build_dag

    monkeypatch.setenv("RETUNE_STORAGE_ROOT", str(tmp_path / "storage"))
    quiet = build_dag(spec_file(tmp_path, on_failure=False))
    assert not quiet.get_task("etl").on_failure_callback
    dotted = f"{__name__}.Recording"
    dag = build_dag(spec_file(tmp_path, notifier=dotted, options={"channel": "#ml"}))
    (callback,) = dag.get_task("export").on_failure_callback  # type: ignore[misc]
    Recording.seen.clear()
    callback(failed_context("export"))
    assert Recording.seen == [
        {
            "channel": "#ml",
            "event": "task_failed",
            "pipeline": "demo_regression",
            "message": "task export failed after try 3: raw partition missing",
        }
    ]
    assert not alerts_file(tmp_path / "storage", "demo_regression").exists()


@pytest.mark.parametrize(
    ("notifier", "message"),
    [
        ("retune.nowhere.Notifier", "alerts.notifier 'retune.nowhere.Notifier' cannot be imported"),
        ("json.dumps", "alerts.notifier 'json.dumps' is not a BaseNotifier class"),
    ],
)
def test_a_notifier_that_is_not_one_is_a_spec_error_naming_the_field(
    tmp_path: Path, notifier: str, message: str
) -> None:
    from retune.dag_factory import build_dag

    with pytest.raises(SpecError, match=message):
        build_dag(spec_file(tmp_path, notifier=notifier))


def test_an_export_without_promotion_alerts_and_a_failing_notifier_is_only_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from retune.notifiers import not_promoted_alert

    from tasks.core import parse_spec

    monkeypatch.setenv("RETUNE_STORAGE_ROOT", str(tmp_path / "storage"))
    spec = parse_spec(demo_spec_data())
    summary = {
        "promoted": False,
        "reason": "rmse 0.61 does not beat the champion's 0.58",
        "value": 0.61,
        "report": "/storage/models/demo_regression/ds=2026-11-21/report.html",
    }
    not_promoted_alert(spec, failed_context("export"), summary)  # type: ignore[arg-type]
    (line,) = alerts_file(tmp_path / "storage", spec.name).read_text().splitlines()
    alert = json.loads(line)
    assert alert["event"] == "not_promoted" and alert["value"] == 0.61
    assert alert["message"] == (
        "demo_regression ds=2026-11-21: exported, not promoted: rmse 0.61 does not beat the "
        "champion's 0.58"
    )
    assert alert["report"] == summary["report"]

    broken = parse_spec({**demo_spec_data(), "alerts": {"notifier": "json.dumps"}})
    not_promoted_alert(broken, failed_context("export"), summary)  # type: ignore[arg-type]
    assert "the not_promoted alert could not be sent" in caplog.text


def test_a_run_not_exported_in_time_alerts_through_airflows_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from airflow.sdk.definitions.deadline import DagRunQueuedAtDeadline
    from airflow.serialization.serialized_objects import DagSerialization
    from retune.dag_factory import build_dag
    from retune.notifiers import deadline_missed

    monkeypatch.setenv("RETUNE_STORAGE_ROOT", str(tmp_path / "storage"))
    assert build_dag(spec_file(tmp_path)).deadline is None
    dag = build_dag(spec_file(tmp_path, export_within_minutes=90))
    (alert,) = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    assert isinstance(alert.reference, DagRunQueuedAtDeadline)
    assert alert.interval == timedelta(minutes=90)
    assert alert.callback.path == "retune.notifiers.deadline_missed"
    assert "deadline" in json.dumps(DagSerialization.to_dict(dag))  # the scheduler gets it

    # As the executor calls it: the context Airflow builds for a missed deadline.
    context = {
        "dag_run": {
            "dag_id": "retune_demo_regression",
            "dag_run_id": "scheduled__2026-11-21T00:00:00+00:00",
            "logical_date": "2026-11-21T00:00:00Z",
        },
        "deadline": {"id": "d1", "deadline_time": "2026-11-21T01:30:00Z"},
    }
    deadline_missed(context, **alert.callback.kwargs)
    (line,) = alerts_file(tmp_path / "storage", "demo_regression").read_text().splitlines()
    entry = json.loads(line)
    assert entry["event"] == "deadline_missed" and entry["ds"] == "2026-11-21"
    assert entry["run_id"] == "scheduled__2026-11-21T00:00:00+00:00"
    assert entry["dag_id"] == "retune_demo_regression"
    assert entry["message"] == (
        "demo_regression run scheduled__2026-11-21T00:00:00+00:00 (ds=2026-11-21) had not "
        "exported its model 90 minutes after it was queued (deadline 2026-11-21T01:30:00Z)"
    )
