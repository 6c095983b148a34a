"""export -> approve_promotion -> promote | keep_champion: the optional approval gate.

``approve_promotion`` is Airflow's human-in-the-loop branch operator: the approver sees
the comparison and a link to the report in the UI's Required Actions, and picks
Approve or Reject; with no answer by ``export.approval.timeout_minutes`` the scheduler
picks ``on_timeout``. It skips itself (and so both branches) when the export needed no
approval. Either branch settles the card, the report and the history; only ``promote``
may move ``champion.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk.exceptions import AirflowSkipException

from retune.links import ReportLink, report_url
from retune.notifiers import APPROVAL_ASKED, alert_quietly, not_promoted_alert
from retune.operators.base import RetuneOperator
from tasks.core import ModelCard, RetuneError, names

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tasks.core import Layout, PipelineSpec

APPROVE = "Approve"
REJECT = "Reject"
PROMOTE_TASK = names.PROMOTE
KEEP_TASK = names.KEEP_CHAMPION
EXPORT_TASK = names.EXPORT
OUTCOME_XCOM = "approval_answer"


def timeout_option(spec: PipelineSpec) -> str:
    return APPROVE if spec.export.approval.on_timeout == "approve" else REJECT


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key} {_value(count)}" for key, count in value.items())
    return "n/a" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def approval_body(spec: PipelineSpec, layout: Layout, card: ModelCard, link: str) -> str:
    """What the approver reads (Markdown): the comparison, the drift, the report's link."""
    approval, champion = card.approval, card.champion
    if approval is None or champion is None:
        raise RetuneError(f"{layout.card_file}: the card asks for no approval")
    drift = card.data.drift
    top = (
        ", ".join(f"{name} {entry.score:.3g}" for name, entry in drift.top.items()) if drift else ""
    )

    rows = [
        ("Why an approval", approval.why),
        (f"New model, {card.metric.name} on valid", _value(card.metric.value)),
        (
            f"Champion (ds={champion.champion_ds or 'none'}) on the same split",
            _value(champion.champion_value),
        ),
        ("Gain", _value(approval.gain)),
        ("export.min_improvement", _value(champion.min_improvement)),
        ("Drift", (drift.level if drift else "not scored") + (f" (top: {top})" if top else "")),
        ("Trials", _value(card.trials)),
        ("Rows", _value(card.data.rows)),
    ]
    table = "\n".join(f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows)
    return (
        f"**{spec.name}**, ds={layout.ds}: {approval.comparison}.\n\n"
        f"| | |\n|---|---|\n{table}\n\n"
        f"[The run's report]({link})\n\n"
        f"Approve moves `champion.json` to this model; Reject keeps the champion. With no "
        f"answer in {approval.timeout_minutes:g} minutes: "
        f"{spec.export.approval.on_timeout}."
    )


class ApprovePromotionOperator(RetuneOperator, HITLBranchOperator):
    """Ask a person to approve the export's promotion (see the module's docstring)."""

    template_fields: Sequence[str] = (*RetuneOperator.template_fields, "subject", "body")
    operator_extra_links = (ReportLink(),)

    def __init__(self, *, spec: PipelineSpec, **kwargs: Any) -> None:
        rule = spec.export.approval
        super().__init__(
            subject=f"Promote the new {spec.name} model?",
            options=[APPROVE, REJECT],
            options_mapping={APPROVE: PROMOTE_TASK, REJECT: KEEP_TASK},
            defaults=[timeout_option(spec)],
            response_timeout=timedelta(minutes=rule.timeout_minutes),
            **kwargs,
        )

    def execute(self, context: Context) -> Any:
        spec = self.load_spec(context)
        layout = self.layout(context, spec)
        summary = dict(context["ti"].xcom_pull(task_ids=EXPORT_TASK) or {})
        approval = summary.get("approval") or {}
        if approval.get("state") != names.PENDING:
            raise AirflowSkipException(f"no approval needed: {summary.get('reason')}")
        card = ModelCard.read(layout.card_file)
        self.report_link = report_url(layout)
        # The run's spec decides, as it did for the export.
        self.defaults = [timeout_option(spec)]
        self.response_timeout = timedelta(minutes=spec.export.approval.timeout_minutes)
        self.subject = f"Promote {spec.name} ds={layout.ds}? {approval['why']}"[:200]
        self.body = approval_body(spec, layout, card, self.report_link)
        alert_quietly(
            spec,
            APPROVAL_ASKED,
            context,
            f"{spec.name} ds={layout.ds}: a promotion waits for an approval ({approval['why']})",
            report=summary.get("report"),
        )
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        self.report_link = report_url(self.layout(context, self.load_spec(context)))
        if "error" not in event:
            user = event.get("responded_by_user") or {}
            answer = {
                "chosen": list(event.get("chosen_options") or []),
                "by": user.get("name") or user.get("id") if user else None,
                "timed_out": bool(event.get("timedout")),
            }
            context["ti"].xcom_push(key=OUTCOME_XCOM, value=answer)
            self.log.info("approval answer: %s", answer)
        return super().execute_complete(context, event)


class SettleApprovalOperator(RetuneOperator):
    """Apply the approval's answer: ``promote`` (approved) or ``keep_champion``."""

    def __init__(self, *, approved: bool, approval_task: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.approved = approved
        self.approval_task = approval_task

    def execute(self, context: Context) -> dict[str, Any]:
        from tasks.export import export_summary, settle_approval

        spec = self.load_spec(context)
        layout = self.layout(context, spec)
        answer = context["ti"].xcom_pull(task_ids=self.approval_task, key=OUTCOME_XCOM) or {}
        approval = settle_approval(
            layout,
            str(context["run_id"]),
            approved=self.approved,
            by=answer.get("by"),
            timed_out=bool(answer.get("timed_out")),
        )
        self.log.info("approval %s: %s", approval.state, approval.outcome)
        summary = export_summary(layout)
        if approval.state != names.APPROVED:
            not_promoted_alert(spec, context, summary)
        return summary
