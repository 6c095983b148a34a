"""The approval task around Airflow's human-in-the-loop operator: what it asks, when it skips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tasks.core import Approval, CardData, Decision, Layout, alerts_file, parse_spec
from tests.conftest import demo_spec_data
from tests.export_support import a_card, a_drift_summary

DS = "2026-11-21"
RUN = "scheduled__2026-11-21"


class TI:
    def __init__(self, export_xcom: dict[str, Any]) -> None:
        self.export_xcom = export_xcom
        self.id = "0195f2b0-0000-7000-8000-000000000000"
        self.task_id, self.dag_id, self.map_index, self.try_number = "approve_promotion", "d", -1, 1

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        assert task_ids == "export"
        return self.export_xcom


def gate(tmp_path: Path) -> Any:
    from retune.operators import ApprovePromotionOperator

    data = {**demo_spec_data(), "export": {"approval": {"when": "always"}}}
    path = tmp_path / "gated.yaml"
    path.write_text(yaml.safe_dump(data))
    spec = parse_spec(data)
    return ApprovePromotionOperator(
        task_id="approve_promotion", spec=spec, spec_path=str(path), storage_root=str(tmp_path)
    )


def context(summary: dict[str, Any]) -> dict[str, Any]:
    return {"ds": DS, "run_id": RUN, "params": {}, "ti": TI(summary), "task_instance": TI(summary)}


def test_no_pending_approval_skips_the_gate(tmp_path: Path) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    operator = gate(tmp_path)
    summary = {"promoted": False, "reason": "rmse 0.7 does not beat the champion's 0.6"}
    with pytest.raises(AirflowSkipException, match="no approval needed: rmse 0.7 does not"):
        operator.execute(context({**summary, "approval": None}))


def test_the_approver_sees_the_comparison_and_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import airflow.providers.standard.operators.hitl as hitl

    asked: dict[str, Any] = {}
    monkeypatch.setattr(hitl, "upsert_hitl_detail", lambda **kwargs: asked.update(kwargs))
    monkeypatch.setenv("RETUNE_STORAGE_ROOT", str(tmp_path))  # where the alert is written
    operator = gate(tmp_path)
    layout = Layout(tmp_path, "demo_regression", DS)
    approval = Approval(
        state="pending",
        why="export.approval.when is always",
        comparison="rmse 0.5 beats the champion's 0.6",
        gain=0.1,
        timeout_minutes=720,
        on_timeout="reject",
        asked_at="2026-11-21T06:00:00+00:00",
    )
    verdict = Decision(
        promoted=False,
        reason="awaiting approval",
        challenger_value=0.5,
        champion_value=0.6,
        champion_ds="2026-11-20",
    )
    card = a_card(
        "demo_regression",
        DS,
        trials={"complete": 12},
        data=CardData(
            content_hash="a" * 64,
            rows={"train": 800},
            drift=a_drift_summary("ok", f03=0.02),
        ),
    ).with_verdict(verdict, approval)
    layout.model_dir.mkdir(parents=True)
    card.write(layout.card_file)
    summary = {
        "promoted": False,
        "reason": "awaiting approval",
        "approval": approval.model_dump(),
        "metric": "rmse",
        "value": 0.5,
        "report": str(layout.report_file),
    }
    with pytest.raises(BaseException) as waiting:  # the task parks, awaiting input
        operator.execute(context(summary))
    assert type(waiting.value).__name__ in ("TaskAwaitingInput", "TaskDeferred")
    assert asked["options"] == ["Approve", "Reject"] and asked["defaults"] == ["Reject"]
    assert asked["subject"] == f"Promote demo_regression ds={DS}? export.approval.when is always"
    body = asked["body"]
    assert "| Champion (ds=2026-11-20) on the same split | 0.6 |" in body
    assert "| Gain | 0.1 |" in body and "| Drift | ok (top: f03 0.02) |" in body
    assert f"[The run's report](/retune/storage/models/demo_regression/ds={DS}/report.html)" in body
    assert "| Trials | complete 12 |" in body and "| Rows | train 800 |" in body
    assert "With no answer in 720 minutes: reject." in body
    (line,) = alerts_file(tmp_path, "demo_regression").read_text().splitlines()
    assert json.loads(line)["event"] == "approval_asked"
