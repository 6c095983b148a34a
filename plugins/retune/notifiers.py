"""Alerts through Airflow's notifier interface: a task that fails for good, and an export
that ends without promoting its model.

The spec's ``alerts.notifier`` names any ``BaseNotifier`` class (the Slack, SMTP or
Apprise providers' notifiers, say) with ``alerts.options`` as its arguments; Airflow calls
it with the task's context. Retune adds ``retune_alert`` to that context: the event, the
pipeline and a one-line message. The default, :class:`RetuneFileNotifier`, writes the
alert to the task log and as a JSON line to ``models/<p>/alerts.jsonl``.
"""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from retune.hooks import resolve_storage_root
from tasks.core import SpecError, alerts_file, append_json_line

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tasks.core import PipelineSpec

log = logging.getLogger(__name__)

ALERT_KEY = "retune_alert"
FAILURE = "task_failed"
NOT_PROMOTED = "not_promoted"
DEADLINE_MISSED = "deadline_missed"
APPROVAL_ASKED = "approval_asked"


def failure_message(context: Context) -> str:
    ti = context.get("ti")
    where = f"task {getattr(ti, 'task_id', '?')}"
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        where += f"[{map_index}]"
    return f"{where} failed after try {getattr(ti, 'try_number', '?')}: {context.get('exception')}"


class RetuneFileNotifier(BaseNotifier):
    """Write the alert to the task log and append it to ``models/<p>/alerts.jsonl``."""

    def __init__(self, storage_root: str | None = None) -> None:
        super().__init__()
        self.storage_root = storage_root

    def notify(self, context: Context) -> None:
        alert = dict(context.get(ALERT_KEY) or {})  # type: ignore[call-overload]
        ti = context.get("ti")
        dag_run = context.get("dag_run")
        # A deadline's context holds the run as a dict (Airflow's API model, as JSON).
        run: dict[str, Any] = dag_run if isinstance(dag_run, dict) else {}
        entry = {
            "event": alert.get("event", FAILURE),
            "pipeline": alert.get("pipeline"),
            "message": alert.get("message") or failure_message(context),
            "dag_id": getattr(ti, "dag_id", None) or run.get("dag_id"),
            "run_id": getattr(dag_run, "run_id", None)
            or run.get("dag_run_id")
            or context.get("run_id"),
            "ds": alert_ds(context),
            "task_id": getattr(ti, "task_id", None),
            "map_index": getattr(ti, "map_index", None),
            "try_number": getattr(ti, "try_number", None),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            **{k: v for k, v in alert.items() if k not in ("event", "pipeline", "message")},
        }
        self.log.warning("Retune alert (%s): %s", entry["event"], entry["message"])
        if entry["pipeline"]:
            path = alerts_file(Path(resolve_storage_root(self.storage_root)), entry["pipeline"])
            append_json_line(path, entry)


def alert_ds(context: Context) -> str | None:
    """The run's ds (see :func:`retune.run_day.run_ds`); a deadline's context has no task."""
    from retune.run_day import run_ds

    if isinstance(context.get("dag_run"), dict) or "dag_run" not in context:
        return context.get("ds")
    try:
        return run_ds(context)
    except (KeyError, AttributeError, TypeError):  # a partial context: the alert still goes
        return context.get("ds")


def notifier_class(spec: PipelineSpec) -> type[BaseNotifier]:
    """The class ``alerts.notifier`` names, or an error naming the field."""
    return import_notifier(spec.name, spec.alerts.notifier)


def import_notifier(pipeline: str, dotted: str) -> type[BaseNotifier]:
    module_name, _, name = dotted.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise SpecError(
            f"{pipeline}: alerts.notifier {dotted!r} cannot be imported ({exc})"
        ) from None
    if not (isinstance(found, type) and issubclass(found, BaseNotifier)):
        raise SpecError(f"{pipeline}: alerts.notifier {dotted!r} is not a BaseNotifier class")
    return found


class PipelineAlert:
    """A task callback that adds the pipeline's alert to the context, then notifies."""

    def __init__(self, spec: PipelineSpec, event: str) -> None:
        self.pipeline = spec.name
        self.event = event
        self.notifier = notifier_class(spec)(**spec.alerts.options)

    def __call__(self, context: Context, message: str | None = None, **extra: Any) -> None:
        alert = {"event": self.event, "pipeline": self.pipeline, **extra}
        alert["message"] = message or failure_message(context)
        self.notifier({**context, ALERT_KEY: alert})


def alert_quietly(
    spec: PipelineSpec, event: str, context: Context, message: str, **extra: Any
) -> None:
    """Send an alert about work already done: a notifier that fails is logged, never a
    reason for the task to fail and do that work again."""
    try:
        PipelineAlert(spec, event)(context, message, **extra)
    except Exception as exc:  # any notifier's error
        log.error("the %s alert could not be sent: %s", event, exc)


def not_promoted_alert(spec: PipelineSpec, context: Context, summary: dict[str, Any]) -> None:
    """The export (and its approval, if one was asked) ended with the champion unchanged."""
    if not spec.alerts.on_not_promoted:
        return
    message = f"{spec.name} ds={context.get('ds')}: exported, not promoted: {summary['reason']}"
    alert_quietly(
        spec, NOT_PROMOTED, context, message, value=summary["value"], report=summary["report"]
    )


def export_deadline(spec: PipelineSpec) -> Any:
    """The DAG's deadline: ``alerts.export_within_minutes`` after a run is queued (None
    without one). The scheduler queues :func:`deadline_missed` on the executor when a run
    has not finished by then; a run that finishes first clears its deadline."""
    from datetime import timedelta

    from airflow.sdk.definitions.callback import SyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    minutes = spec.alerts.export_within_minutes
    if minutes is None:
        return None
    notifier_class(spec)  # refused at parse time, not when the deadline is missed
    kwargs = {
        "pipeline": spec.name,
        "minutes": minutes,
        "notifier": spec.alerts.notifier,
        "options": spec.alerts.options,
    }
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=minutes),
        callback=SyncCallback(f"{__name__}.deadline_missed", kwargs=kwargs),
        name="retune_export_deadline",
    )


def deadline_missed(
    context: dict[str, Any],
    pipeline: str,
    minutes: float,
    notifier: str,
    options: dict[str, Any],
) -> None:
    """The deadline callback: the run was not done ``minutes`` after it was queued."""
    run = context.get("dag_run") or {}
    logical = str(run.get("logical_date") or "")
    deadline = (context.get("deadline") or {}).get("deadline_time")
    alert = {
        "event": DEADLINE_MISSED,
        "pipeline": pipeline,
        # An Asset-triggered tuning run has no logical date; its run id names it.
        "message": f"{pipeline} run {run.get('dag_run_id')}"
        f"{f' (ds={logical[:10]})' if logical else ''} had not "
        f"exported its model {minutes:g} minutes after it was queued (deadline {deadline})",
        "deadline": str(deadline),
    }
    instance = import_notifier(pipeline, notifier)(**options)
    instance({**context, "ds": logical[:10] or None, ALERT_KEY: alert})
