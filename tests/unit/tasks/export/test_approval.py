"""The approval gate's rules and how an answer is settled (tasks.export.approval)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tasks.core import (
    Decision,
    DriftSummary,
    Layout,
    ModelCard,
    ReportParts,
    RetuneError,
    SpecError,
    parse_spec,
)
from tasks.export.approval import (
    approval_reason,
    pending_approval,
    settle_approval,
)
from tasks.export.champion import promote, read_champion
from tasks.export.history import history_entry, read_history
from tasks.export.report import render_report
from tests.conftest import demo_spec_data
from tests.export_support import a_card, a_drift_summary

RUN = "scheduled__2026-11-21"


def spec_with(approval: dict[str, Any], **extra: Any) -> Any:
    return parse_spec({**demo_spec_data(), "export": {"approval": approval}, **extra})


def decision(promoted: bool = True, champion: float | None = 0.60) -> Decision:
    reason = "rmse 0.5 beats the champion's 0.6" if champion else "no champion yet"
    return Decision(
        promoted=promoted,
        reason=reason,
        challenger_value=0.50,
        champion_value=champion,
        champion_ds="2026-11-20" if champion else None,
    )


def drift(score: float) -> DriftSummary:
    return a_drift_summary("warn", f03=score, f01=0.01)


def test_never_and_a_model_that_loses_ask_nobody() -> None:
    assert approval_reason(spec_with({}), decision(), None) is None
    always = spec_with({"when": "always"})
    assert approval_reason(always, decision(promoted=False), None) is None
    assert approval_reason(always, decision(), None) == "export.approval.when is always"


def test_conditional_asks_for_a_small_gain_no_champion_or_drift() -> None:
    by_gain = spec_with({"when": "conditional", "gain_below": 0.2})
    assert "beats the champion by 0.1, less than export.approval.gain_below = 0.2" in str(
        approval_reason(by_gain, decision(), None)
    )
    assert (
        approval_reason(spec_with({"when": "conditional", "gain_below": 0.05}), decision(), None)
        is None
    )
    assert "no champion scored" in str(approval_reason(by_gain, decision(champion=None), None))
    by_drift = spec_with({"when": "conditional", "drift_above": 0.2})
    assert approval_reason(by_drift, decision(), drift(0.15)) is None
    assert approval_reason(by_drift, decision(), drift(0.35)) == (
        "features drifted past export.approval.drift_above = 0.2: f03 (0.35)"
    )


@pytest.mark.parametrize(
    ("approval", "message"),
    [
        ({"when": "conditional"}, "when: conditional needs gain_below, drift_above or both"),
        ({"when": "always", "gain_below": 0.1}, "gain_below apply to when: conditional only"),
        ({"when": "sometimes"}, "export.approval.when"),
        ({"when": "always", "timeout_minutes": 0}, "export.approval.timeout_minutes"),
    ],
)
def test_a_wrong_approval_setting_is_a_spec_error_naming_it(
    approval: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        spec_with(approval)


def test_a_segmented_pipeline_refuses_an_approval() -> None:
    with pytest.raises(SpecError, match="a segmented pipeline promotes each segment"):
        spec_with({"when": "always"}, segments={"column": "f00"})


def exported(tmp_path: Path, ds: str, run_id: str = RUN) -> tuple[Layout, ModelCard]:
    """A day exported with its promotion pending, as export_best leaves it."""
    spec = spec_with({"when": "always", "timeout_minutes": 60})
    layout = Layout(tmp_path, spec.name, ds)
    block, approval = pending_approval(spec, layout, decision(), "export.approval.when is always")
    card = a_card(spec.name, ds, run_id=run_id).with_verdict(block, approval)
    layout.model_dir.mkdir(parents=True)
    layout.model_file.write_text("{}")
    layout.features_file.write_text("{}")
    card.write(layout.card_file)
    # The report as export writes it: its parts beside the page.
    figure = {"data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}], "layout": {}}
    parts = ReportParts(figures={"Trials per worker": figure})
    parts.write(layout.report_parts_file)
    render_report(layout.model_dir, card, parts, [], None)
    return layout, card


def test_an_approved_promotion_moves_the_champion_once(tmp_path: Path) -> None:
    layout, _ = exported(tmp_path, "2026-11-21")
    assert read_champion(layout) is None
    settled = settle_approval(layout, RUN, approved=True, by="ana")
    assert settled.state == "approved" and settled.answered_by == "ana"
    champion = read_champion(layout)
    assert champion is not None and champion.ds == "2026-11-21" and champion.run_id == RUN
    card = json.loads(layout.card_file.read_text())
    assert card["format"] == "retune-model-card/1"
    assert card["champion"]["promoted"] is True
    assert card["champion"]["reason"] == "approved by ana: rmse 0.5 beats the champion's 0.6"
    assert json.loads(Path(champion.files[1]).read_text())["approval"]["state"] == "approved"
    page = layout.report_file.read_text()
    assert "approved by ana" in page and "awaiting approval" not in page
    # Rendered again from the card and the kept parts: the rest of the page is still there.
    assert "<h2>Trials per worker</h2>" in page and page.count('class="plotly-graph-div"') == 1
    (line,) = read_history(layout.history_file)
    assert line.approval == "approved" and line.promoted is True
    # A retried task settles nothing twice.
    settle_approval(layout, RUN, approved=True, by="ana")
    assert read_champion(layout) == champion
    assert len(read_history(layout.history_file)) == 1


def test_a_champion_changed_while_waiting_is_not_replaced(tmp_path: Path) -> None:
    layout, _ = exported(tmp_path, "2026-11-21")
    other, _ = exported(tmp_path, "2026-11-22", run_id="backfill__2026-11-22")
    promote(other, ModelCard.read(other.card_file))
    settled = settle_approval(layout, RUN, approved=True, by="ana")
    assert settled.state == "champion_changed"
    assert "the champion changed while the approval waited (now ds=2026-11-22)" in str(
        settled.outcome
    )
    champion = read_champion(layout)
    assert champion is not None and champion.ds == "2026-11-22"


@pytest.mark.parametrize(
    ("by", "timed_out", "state", "reason"),
    [
        ("ana", False, "rejected", "rejected by ana: the champion stays"),
        (
            None,
            True,
            "timed_out",
            "no answer in 60 minutes (on_timeout: reject): the champion stays",
        ),
    ],
)
def test_a_rejection_or_a_timeout_keeps_the_champion(
    tmp_path: Path, by: str | None, timed_out: bool, state: str, reason: str
) -> None:
    layout, _ = exported(tmp_path, "2026-11-21")
    settled = settle_approval(layout, RUN, approved=False, by=by, timed_out=timed_out)
    assert settled.state == state and settled.timed_out is timed_out
    assert read_champion(layout) is None
    card = ModelCard.read(layout.card_file)
    assert card.champion is not None
    assert (card.champion.promoted, card.champion.reason) == (False, reason)
    assert history_entry(card, []).approval == state


def test_an_answer_for_a_run_exported_again_is_refused(tmp_path: Path) -> None:
    layout, _ = exported(tmp_path, "2026-11-21", run_id="manual__later")
    with pytest.raises(RetuneError, match=r"card.json is from run manual__later, not " + RUN):
        settle_approval(layout, RUN, approved=True, by="ana")
    assert read_champion(layout) is None


def test_an_export_that_needs_an_approval_leaves_the_champion_alone(tmp_path: Path) -> None:
    """The real export: model, card and report written, champion.json not, until settled."""
    from tasks.export import export_best
    from tests.export_support import tuned

    spec, layout, storage = tuned(tmp_path, approval={"when": "always", "timeout_minutes": 30})
    summary = export_best(spec, layout, storage, "journal", run_id=RUN)
    assert summary["promoted"] is False and summary["approval"]["state"] == "pending"
    assert summary["reason"].startswith("awaiting approval (export.approval.when is always): ")
    assert summary["approval"]["compared_with"] is None and layout.model_file.is_file()
    assert not layout.champion_file.exists()
    assert "awaiting approval" in layout.report_file.read_text()
    (line,) = read_history(layout.history_file)
    assert line.approval == "pending" and line.promoted is False
    settle_approval(layout, RUN, approved=True, by="ana")
    champion = read_champion(layout)
    assert champion is not None and Path(champion.model).read_bytes() == (
        layout.model_file.read_bytes()
    )


def test_a_report_from_before_its_parts_were_kept_stays_as_it_was(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A day exported by the previous version (no report_parts.json) is settled all the same;
    its page is left as written, and the log says why."""
    layout, _ = exported(tmp_path, "2026-11-21")
    layout.report_parts_file.unlink()
    before = layout.report_file.read_text()
    settle_approval(layout, RUN, approved=True, by="ana")
    assert json.loads(layout.card_file.read_text())["champion"]["promoted"] is True
    assert layout.report_file.read_text() == before
    assert "report_parts.json (retune-report-parts/1): missing" in caplog.text
