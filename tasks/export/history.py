"""A pipeline's runs across days: one JSON line per export in ``models/<p>/history.jsonl``,
charted in each day's report and on the pipeline's page ``models/<p>/index.html``.

A line is appended once the champion is settled, so it says what the run left behind.
Reruns of a day add lines; the charts and tables show each day's last one.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import (
    REPORT_FILE,
    SEGMENTS_REPORT,
    DocumentError,
    HistoryDrift,
    HistoryLine,
    append_json_line,
    write_text_atomically,
)
from tasks.export.pages import figure_html, render

if TYPE_CHECKING:
    from tasks.core import DriftSummary, Layout, ModelCard

log = logging.getLogger(__name__)

# The day's report charts the last days only; the pipeline's page charts them all.
REPORT_DAYS = 90


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stage_seconds(stages: list[dict[str, Any]]) -> tuple[dict[str, float], float | None]:
    """Each task's span (first start to last finish over its mapped instances and tries),
    and the span of all of them: the run's wall time up to export."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for stage in stages:
        try:
            start, end = _parse_time(stage["started"]), _parse_time(stage["finished"])
        except (KeyError, TypeError, ValueError):
            continue
        first, last = spans.get(stage["task"], (start, end))
        spans[stage["task"]] = (min(first, start), max(last, end))
    seconds = {
        task: round((end - start).total_seconds(), 1) for task, (start, end) in spans.items()
    }
    if not spans:
        return seconds, None
    wall = max(end for _, end in spans.values()) - min(start for start, _ in spans.values())
    return seconds, round(wall.total_seconds(), 1)


def compact_drift(drift: DriftSummary | None) -> HistoryDrift | None:
    """The card's drift summary as the history keeps it: level, names, top scores."""
    if drift is None:
        return None
    return HistoryDrift(
        level=drift.level,
        reference_ds=drift.reference_ds,
        errors=drift.errors,
        warned=drift.warned,
        accepted=drift.accepted,
        top={name: entry.score for name, entry in drift.top.items()},
    )


def history_entry(card: ModelCard, stages: list[dict[str, Any]]) -> HistoryLine:
    """The line a run adds, from its model card and its stage timings."""
    champion = card.champion
    seconds, wall = stage_seconds(stages)
    return HistoryLine(
        ds=card.ds,
        run_id=card.run_id,
        metric=card.metric.name,
        tuned_best=card.tuned_value,
        value=card.metric.value,
        champion_value=champion.champion_value if champion else None,
        champion_ds=champion.champion_ds if champion else None,
        promoted=bool(champion and champion.promoted),
        reason=champion.reason if champion else None,
        approval=card.approval.state if card.approval else None,
        trials=card.trials,
        rows=card.data.rows,
        stage_seconds=seconds,
        wall_seconds=wall,
        spec_sha256=card.spec_sha256,
        content_hash=card.data.content_hash,
        drift=compact_drift(card.data.drift),
        recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def append_history(path: Path, entry: HistoryLine) -> None:
    """Add ``entry`` as one line of the history (see :func:`append_json_line`)."""
    append_json_line(path, entry.model_dump(mode="json"))


def read_history(path: Path) -> list[HistoryLine]:
    """Every readable line of the history, in the order they were written; a line that is
    not a JSON object (torn by a crash, edited by hand) is skipped with a warning."""
    if not path.is_file():
        return []
    entries = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                log.warning("%s line %d is not JSON (%s); skipped", path, number, exc.msg)
                continue
            if not isinstance(data, dict) or not isinstance(data.get("ds"), str):
                log.warning("%s line %d is not a history entry with a ds; skipped", path, number)
                continue
            try:
                entries.append(HistoryLine.parse(data, f"{path} line {number}"))
            except DocumentError as exc:
                log.warning("%s; skipped", exc)
    return entries


def latest_per_day(entries: list[HistoryLine]) -> list[HistoryLine]:
    """Each day's last line, by ds."""
    days = {entry.ds: entry for entry in entries}
    return [days[ds] for ds in sorted(days)]


def plot_value(value: Any) -> float | None:
    """A number to chart; None (a gap) for anything else."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def history_figures(entries: list[HistoryLine]) -> dict[str, Any]:
    """Scores, rows, and trials and time per day (plotly figures)."""
    import plotly.graph_objects as go

    days = [e.ds for e in entries]
    metric = (entries[-1].metric if entries else None) or "metric"
    scores = go.Figure()
    for key, name in (
        ("tuned_best", "tuned best (trial on valid)"),
        ("value", "exported model (valid)"),
        ("champion_value", "champion before the run (same valid)"),
    ):
        scores.add_scatter(x=days, y=[plot_value(getattr(e, key)) for e in entries], name=name)
    promoted = [e for e in entries if e.promoted]
    scores.add_scatter(
        x=[e.ds for e in promoted],
        y=[plot_value(e.value) for e in promoted],
        mode="markers",
        marker={"symbol": "star", "size": 14},
        name="promoted",
    )
    scores.update_layout(title=f"{metric} per day", xaxis_title="ds", yaxis_title=metric)

    rows = go.Figure()
    splits = sorted({s for e in entries for s in e.rows})
    for split in splits:
        rows.add_bar(x=days, y=[e.rows.get(split) for e in entries], name=split)
    rows.update_layout(title="Rows per day", barmode="stack", xaxis_title="ds")

    effort = go.Figure()
    for state in ("complete", "pruned", "failed"):
        effort.add_bar(x=days, y=[e.trials.get(state, 0) for e in entries], name=state)
    effort.add_scatter(
        x=days,
        y=[plot_value(e.wall_seconds) for e in entries],
        name="wall seconds up to export",
        yaxis="y2",
    )
    effort.update_layout(
        title="Trials and time per day",
        barmode="stack",
        xaxis_title="ds",
        yaxis={"title": "trials"},
        yaxis2={"title": "seconds", "overlaying": "y", "side": "right"},
    )
    return {"Scores per day": scores, "Rows per day": rows, "Trials and time per day": effort}


def drift_cell(drift: HistoryDrift | None) -> str:
    if drift is None:
        return ""
    named = drift.errors or drift.warned
    accepted = " (accepted)" if drift.accepted else ""
    return f"{drift.level}{accepted}" + (f": {', '.join(named)}" if named else "")


def day_page(entry: HistoryLine) -> str:
    """The day's page, relative to ``models/<p>/``."""
    page = SEGMENTS_REPORT if entry.segments else REPORT_FILE
    return f"ds={entry.ds}/{page}"


HISTORY_HEAD = (
    "ds",
    "tuned best",
    "exported",
    "champion before",
    "promoted",
    "reason",
    "trials",
    "rows",
    "seconds",
    "drift",
    "run",
)


def history_row(entry: HistoryLine, link_prefix: str | None) -> list[Any]:
    """A day's cells; with ``link_prefix``, its ds links to its page."""
    promoted = "yes" if entry.promoted else "no"
    if entry.segments:
        promoted += f" (segments: {entry.segments.get('promoted', 0)} promoted)"
    ds: Any = entry.ds
    if link_prefix is not None:
        ds = {"text": ds, "href": link_prefix + day_page(entry)}
    return [
        ds,
        entry.tuned_best,
        entry.value,
        entry.champion_value,
        promoted,
        entry.reason,
        " / ".join(f"{entry.trials.get(s, 0)} {s}" for s in ("complete", "pruned")),
        " + ".join(f"{n} {s}" for s, n in entry.rows.items()),
        entry.wall_seconds,
        drift_cell(entry.drift),
        entry.run_id,
    ]


def history_view(entries: list[HistoryLine], link_prefix: str | None) -> dict[str, Any] | None:
    """What a page shows of the history (charts, then one row per day, newest first), or
    None when no run is recorded."""
    if not entries:
        return None
    return {
        "figures": [(t, figure_html(f)) for t, f in history_figures(entries).items()],
        "head": HISTORY_HEAD,
        "rows": [history_row(entry, link_prefix) for entry in reversed(entries)],
    }


def write_pipeline_index(layout: Layout, entries: list[HistoryLine]) -> Path:
    """``models/<p>/index.html``: every day's last run, written aside then renamed."""
    days = latest_per_day(entries)
    page = render(
        "history.html.j2",
        pipeline=layout.pipeline,
        days=len(days),
        source=str(layout.history_file),
        history=history_view(days, link_prefix=""),
    )
    write_text_atomically(layout.pipeline_index_file, page)
    return layout.pipeline_index_file


def record_run(layout: Layout, entry: HistoryLine) -> Path:
    """Append the run's line and rewrite the pipeline's page; return the page's path."""
    whole = layout.whole
    append_history(whole.history_file, entry)
    return write_pipeline_index(whole, read_history(whole.history_file))


def report_history(layout: Layout, pending: HistoryLine | None) -> list[HistoryLine]:
    """What the day's report charts: the last days of the history, with this run's line
    when it is not recorded yet (``pending``)."""
    entries = read_history(layout.whole.history_file) + ([pending] if pending else [])
    return latest_per_day(entries)[-REPORT_DAYS:]
