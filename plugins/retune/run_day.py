"""Which day a run works on: its ``ds``, in every kind of run."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Context

SNAPSHOT_DS_PARAM = "ds"

log = logging.getLogger(__name__)


def run_ds(context: Context) -> str:
    """The run's ds, from the first of:

    - the ``ds`` Param of a tuning DAG (``tuning.trigger: snapshot_asset``) run by hand;
    - the snapshot Asset event that triggered the run (the newest ds, when several
      snapshots were published before the run was created);
    - the run's logical date;
    - the day a manual run without a logical date was triggered.
    """
    dag = context.get("dag")
    if dag is not None and SNAPSHOT_DS_PARAM in dag.params:
        chosen = (context.get("params") or {}).get(SNAPSHOT_DS_PARAM)
        if chosen:
            return str(chosen)
    published = snapshot_days(context)
    if published:
        if len(published) > 1:
            log.warning(
                "snapshots of %s were published before this run began; it tunes the newest, "
                "%s (run the tuning DAG with ds set for the others)",
                ", ".join(published),
                published[-1],
            )
        return published[-1]
    ds = context.get("ds")
    if ds:
        return str(ds)
    return str(context["dag_run"].run_after.date().isoformat())


def snapshot_days(context: Context) -> list[str]:
    """The ds of each snapshot Asset event that triggered the run, sorted."""
    events = context.get("triggering_asset_events") or {}
    days = {
        str(event.extra["ds"])
        for batch in events.values()
        for event in batch
        if (event.extra or {}).get("ds")
    }
    return sorted(days)
