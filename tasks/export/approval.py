"""The approval gate: a promotion that waits for a person (``export.approval``).

Export writes the model, its card and report as always; when the spec asks for an
approval, it leaves ``champion.json`` alone and marks the card's ``approval`` pending.
The answer (given in the Airflow UI, or the timeout's default) is settled here, under
the champion lock: an approved model is promoted only if the champion it was compared
with is still the champion; the card, the report's Champion section and the history
then say what happened (the report is rendered again from the card).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tasks.core import Approval, Decision, ModelCard, RetuneError, names, read_stages
from tasks.export.champion import champion_lock, promote, read_champion
from tasks.export.history import history_entry, record_run
from tasks.export.report import render_report_again

if TYPE_CHECKING:
    from tasks.core import ChampionPointer, DriftSummary, Layout, PipelineSpec


def gain(spec: PipelineSpec, decision: Decision) -> float | None:
    """How much better the new model scores than the champion (None: no champion scored)."""
    if decision.champion_value is None:
        return None
    if spec.study_direction == "minimize":
        return decision.champion_value - decision.challenger_value
    return decision.challenger_value - decision.champion_value


def approval_reason(
    spec: PipelineSpec, decision: Decision, drift: DriftSummary | None
) -> str | None:
    """Why this promotion waits for a person, or None when it goes ahead (or there is none)."""
    rule = spec.export.approval
    if not decision.promoted or decision.already_champion or rule.when == "never":
        return None
    if rule.when == "always":
        return "export.approval.when is always"
    reasons = []
    if rule.gain_below is not None:
        won_by = gain(spec, decision)
        if won_by is None:
            reasons.append("there is no champion scored on the same split to compare it with")
        elif won_by < rule.gain_below:
            reasons.append(
                f"it beats the champion by {won_by:.6g}, less than "
                f"export.approval.gain_below = {rule.gain_below:g}"
            )
    if rule.drift_above is not None and drift:
        scores = {name: entry.score for name, entry in drift.top.items()}
        moved = {n: s for n, s in scores.items() if s > rule.drift_above}
        if moved:
            named = ", ".join(f"{n} ({s:.3g})" for n, s in moved.items())
            reasons.append(
                f"features drifted past export.approval.drift_above = {rule.drift_above:g}: {named}"
            )
    return "; ".join(reasons) or None


def pending_approval(
    spec: PipelineSpec, layout: Layout, decision: Decision, why: str
) -> tuple[Decision, Approval]:
    """The card's ``champion`` and ``approval`` blocks of a promotion left to a person."""
    rule = spec.export.approval
    champion = read_champion(layout)
    approval = Approval(
        state=names.PENDING,
        why=why,
        comparison=decision.reason,
        gain=gain(spec, decision),
        compared_with=champion.model if champion else None,
        timeout_minutes=rule.timeout_minutes,
        on_timeout=rule.on_timeout,
        asked_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    block = decision.model_copy(
        update={"promoted": False, "reason": f"awaiting approval ({why}): {decision.reason}"}
    )
    return block, approval


def settle_approval(
    layout: Layout,
    run_id: str,
    approved: bool,
    by: str | None = None,
    timed_out: bool = False,
) -> Approval:
    """Apply the answer to the run's pending approval; return the card's approval block.

    Safe to call again for the same answer (a retried task): an approved model already
    promoted is not promoted twice.
    """
    with champion_lock(layout):
        card = read_card(layout, run_id)
        approval = card.approval
        if approval is None or card.champion is None:
            raise RetuneError(f"{layout.card_file}: no approval was asked for run {run_id}")
        champion = read_champion(layout)
        if approval.state == names.PENDING:
            approval = approval.model_copy(
                update={
                    **settled(approval, champion, approved, by, timed_out),
                    "answered_by": by,
                    "answered_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "timed_out": timed_out,
                }
            )
            verdict = card.champion.model_copy(
                update={"promoted": approval.state == names.APPROVED, "reason": approval.outcome}
            )
            card = card.with_verdict(verdict, approval)
            card.write(layout.card_file)
            render_report_again(layout, card)
            record_run(layout, history_entry(card, read_stages(layout)))
        if approval.state == names.APPROVED and (champion is None or champion.run_id != run_id):
            promote(layout, card)
        return approval


def settled(
    approval: Approval,
    champion: ChampionPointer | None,
    approved: bool,
    by: str | None,
    timed_out: bool,
) -> dict[str, str]:
    """The state the answer leads to, and the sentence the card and the alert give."""
    who = by or "nobody"
    if timed_out:
        heard = f"no answer in {approval.timeout_minutes:g} minutes (on_timeout: "
        heard += f"{approval.on_timeout})"
    else:
        heard = f"{'approved' if approved else 'rejected'} by {who}"
    if not approved:
        state = names.TIMED_OUT if timed_out else names.REJECTED
        return {"state": state, "outcome": f"{heard}: the champion stays"}
    current = champion.model if champion else None
    if current != approval.compared_with:
        ds = champion.ds if champion else None
        return {
            "state": names.STALE,
            "outcome": f"{heard}, but the champion changed while the approval waited (now "
            f"ds={ds}): not promoted; run the day again to compare with the new champion",
        }
    return {"state": names.APPROVED, "outcome": f"{heard}: {approval.comparison}"}


def read_card(layout: Layout, run_id: str) -> ModelCard:
    """The run's model card; an error if the day was exported again by another run."""
    card = ModelCard.read(layout.card_file)
    if card.run_id != run_id:
        raise RetuneError(
            f"{layout.card_file} is from run {card.run_id}, not {run_id}: the day was "
            "exported again; that run's approval decides"
        )
    return card
