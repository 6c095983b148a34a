"""The data operators around their jobs: validate's failure, materialize's Asset event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from bench.staging import stage_frame
from tasks.core import DOCS_DIR, GATE_FILE, RESULT_FILE, Layout, ValidationFailed
from tasks.data import make_frame
from tests.conftest import DEMO_SPEC

DS = "2026-11-21"


class Event:
    extra: dict[str, Any] | None = None


def context(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "ds": DS,
        "logical_date": datetime(2026, 11, 21, tzinfo=UTC),
        "params": {},
        "run_id": "scheduled__2026-11-22T00:00:00+00:00",
        **extra,
    }


def staged(tmp_path: Path) -> Layout:
    from datetime import date

    layout = Layout(tmp_path, "demo_regression", DS)
    stage_frame(layout, make_frame(date.fromisoformat(DS), 300, seed=2))
    return layout


def test_validate_raises_the_failed_expectations_when_the_job_exits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retune.operators import ValidateOperator

    layout = staged(tmp_path)
    (layout.staging_dir / GATE_FILE).unlink()
    failed = {
        "success": False,
        "statistics": {"evaluated_expectations": 9},
        "results": [
            {
                "success": False,
                "expectation_config": {
                    "type": "expect_column_values_to_be_between",
                    "kwargs": {"column": "f00", "min_value": 0},
                    "meta": {"severity": "error", "spec_field": "schema.columns.f00.min = 0"},
                },
                "result": {"unexpected_count": 150, "unexpected_percent": 50.0},
            }
        ],
    }

    def job_writes_result_then_exits(*_: Any, **__: Any) -> None:
        layout.reports_dir.mkdir(parents=True, exist_ok=True)
        (layout.reports_dir / RESULT_FILE).write_text(json.dumps(failed))
        raise RuntimeError("Cannot execute: spark-submit ... Error code is: 3.")

    operator = ValidateOperator(
        task_id="validate", spec_path=str(DEMO_SPEC), storage_root=str(tmp_path)
    )
    monkeypatch.setattr(operator, "submit", job_writes_result_then_exits)
    with pytest.raises(ValidationFailed) as caught:
        operator.execute(context(tmp_path))  # type: ignore[arg-type]
    assert isinstance(caught.value, AirflowFailException)  # no retry of the same data
    text = str(caught.value)
    assert "1 of 9 expectations" in text
    assert "schema.columns.f00.min = 0: observed '150 unexpected (50.00%)'" in text
    assert "[Great Expectations: expect_column_values_to_be_between(f00)]" in text
    assert str(layout.reports_dir / DOCS_DIR / "index.html") in text

    # A crash that wrote no result stays the crash.
    (layout.reports_dir / RESULT_FILE).unlink()

    def job_crashes(*_: Any, **__: Any) -> None:
        raise RuntimeError("Cannot execute: spark-submit ... Error code is: 1.")

    monkeypatch.setattr(operator, "submit", job_crashes)
    with pytest.raises(RuntimeError, match="Error code is: 1"):
        operator.execute(context(tmp_path))  # type: ignore[arg-type]


def test_materialize_publishes_and_annotates_its_asset_event(tmp_path: Path) -> None:
    from retune.dag_factory import snapshot_asset
    from retune.operators import MaterializeOperator

    layout = staged(tmp_path)
    asset = snapshot_asset("demo_regression")
    event = Event()
    operator = MaterializeOperator(
        task_id="materialize",
        spec_path=str(DEMO_SPEC),
        storage_root=str(tmp_path),
        outlets=[asset],
    )
    summary = operator.execute(context(tmp_path, outlet_events={asset: event}))  # type: ignore[arg-type]
    assert event.extra == summary
    assert summary["path"] == str(layout.dataset_dir) and summary["ds"] == DS
    assert summary["rows"] == {"train": 240, "valid": 60}
    assert json.loads((layout.dataset_dir / "manifest.json").read_text())["rows"] == summary["rows"]
    assert asset.name == "retune_demo_regression_snapshot"
    assert asset.uri.startswith("file:///") and asset.uri.endswith("/datasets/demo_regression")
