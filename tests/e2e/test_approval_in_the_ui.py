"""The approval gate through the real Airflow: three days whose promotion waits for a
person; one approved and one rejected in the UI (headless Chromium), one left to time out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tasks.core import Layout, alerts_file
from tasks.export.history import read_history
from tests.e2e.conftest import APPROVAL_DAG_ID, APPROVAL_TIMEOUT_MINUTES, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.mysql, pytest.mark.browser]

PIPELINE = "demo_approval"


def layout(stack: Stack, ds: str) -> Layout:
    return Layout(stack.storage, PIPELINE, ds)


def card(stack: Stack, ds: str) -> dict[str, Any]:
    return dict(json.loads(layout(stack, ds).card_file.read_text()))


def task_states(stack: Stack, run_id: str) -> dict[str, str]:
    rows = stack.query(
        "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
        APPROVAL_DAG_ID,
        run_id,
    )
    return {task: str(state) for task, state in rows}


def test_an_approved_promotion_moves_the_champion(
    stack: Stack, approval_runs: dict[str, Any]
) -> None:
    approved, _, _ = approval_runs["days"]
    shown = approval_runs["shown"][approved]
    # The approver saw the comparison and the report's link.
    assert f"ds={approved}" in shown and "Why an approval" in shown and "Gain" in shown
    assert "The run's report" in shown
    assert approval_runs["report_href"].endswith(f"models/{PIPELINE}/ds={approved}/report.html")
    run = approval_runs["runs"][approved]
    states = task_states(stack, run["run_id"])
    assert states["approve_promotion"] == "success" and states["promote"] == "success"
    assert states["keep_champion"] == "skipped"
    champion = json.loads(layout(stack, approved).champion_file.read_text())
    assert champion["ds"] == approved and champion["run_id"] == run["run_id"]
    exported = card(stack, approved)
    assert exported["approval"]["state"] == "approved"
    assert exported["approval"]["answered_by"] == "admin"
    assert exported["champion"]["promoted"] is True
    assert exported["champion"]["reason"].startswith("approved by admin: ")
    # The champion's own copy of the card says so too, and so does the report.
    promoted_card = json.loads(Path(champion["files"][1]).read_text())
    assert promoted_card["approval"]["state"] == "approved"
    assert "approved by admin" in layout(stack, approved).report_file.read_text()


def test_a_rejected_promotion_and_a_timed_out_one_keep_the_champion(
    stack: Stack, approval_runs: dict[str, Any]
) -> None:
    approved, rejected, timed_out = approval_runs["days"]
    champion = json.loads(layout(stack, approved).champion_file.read_text())
    assert champion["ds"] == approved  # after all three runs
    for ds, state, by in ((rejected, "rejected", "admin"), (timed_out, "timed_out", None)):
        run = approval_runs["runs"][ds]
        states = task_states(stack, run["run_id"])
        assert states["approve_promotion"] == "success", (ds, states)
        assert states["keep_champion"] == "success" and states["promote"] == "skipped"
        exported = card(stack, ds)
        assert exported["approval"]["state"] == state and exported["approval"]["answered_by"] == by
        assert exported["champion"]["promoted"] is False
        assert layout(stack, ds).model_file.is_file()  # exported, not promoted
    assert card(stack, timed_out)["champion"]["reason"] == (
        f"no answer in {APPROVAL_TIMEOUT_MINUTES:g} minutes (on_timeout: reject): "
        "the champion stays"
    )
    alerts = [
        json.loads(line) for line in alerts_file(stack.storage, PIPELINE).read_text().splitlines()
    ]
    asked = sorted(a["ds"] for a in alerts if a["event"] == "approval_asked")
    assert asked == sorted(approval_runs["days"])
    not_promoted = {a["ds"]: a["message"] for a in alerts if a["event"] == "not_promoted"}
    assert set(not_promoted) == {rejected, timed_out}
    assert "rejected by admin: the champion stays" in not_promoted[rejected]


def test_the_history_keeps_each_days_answer(stack: Stack, approval_runs: dict[str, Any]) -> None:
    approved = approval_runs["days"][0]
    entries = [e.model_dump() for e in read_history(layout(stack, approved).history_file)]
    last = {e["ds"]: e for e in entries}  # each day's last line wins
    assert [last[d]["approval"] for d in approval_runs["days"]] == [
        "approved",
        "rejected",
        "timed_out",
    ]
    assert [last[d]["promoted"] for d in approval_runs["days"]] == [True, False, False]
    pending = [e for e in entries if e["approval"] == "pending"]
    assert sorted(e["ds"] for e in pending) == sorted(approval_runs["days"])
