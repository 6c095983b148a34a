"""The run-level page of a segmented run: the segments ranked by their metric, with rows,
trials, time, promotion and fallback, a link to each segment's own report, and plots
that compare the segments (metric against rows, time spent)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import REPORT_FILE, SEGMENT_DIR_PREFIX, StudyTrials, write_text_atomically
from tasks.export.pages import figure_html, render

if TYPE_CHECKING:
    from tasks.core import IndexedSegment, SegmentsIndex


def ranked(index: SegmentsIndex) -> list[tuple[str, IndexedSegment]]:
    """Segments with a model of their own, best metric first; then the fallback ones."""
    entries = index.segments
    own = [(k, e) for k, e in entries.items() if not e.fallback]
    sign = -1.0 if index.direction == "maximize" else 1.0
    own.sort(key=lambda item: (sign * float(item[1].metric or 0.0), item[0]))
    rest = sorted(
        ((k, e) for k, e in entries.items() if e.fallback),
        key=lambda item: (-item[1].rows.get("train", 0), item[0]),
    )
    return own + rest


def ranking_head(metric: str) -> list[str]:
    return [
        *("rank", "segment", "value", "train rows", "valid rows", metric, "model"),
        *("promoted", "complete", "pruned", "failed", "training seconds"),
    ]


def ranking_rows(index: SegmentsIndex) -> list[list[Any]]:
    """One row per segment, ranked; a segment with a model of its own links to its report."""
    rows = []
    for rank, (key, entry) in enumerate(ranked(index), start=1):
        trials = entry.trials
        segment: Any = {"text": key, "href": f"{SEGMENT_DIR_PREFIX}{key}/{REPORT_FILE}"}
        model = "own"
        if entry.fallback:
            segment, model = key, f"global ({(entry.fallback_reason or '').replace('_', ' ')})"
        rows.append(
            [
                "" if entry.fallback else rank,
                segment,
                entry.value,
                entry.rows.get("train", 0),
                entry.rows.get("valid", 0),
                entry.metric,
                model,
                "" if entry.promoted is None else entry.promoted,
                *(
                    ("", "", "", "")
                    if trials is None
                    else (trials.complete, trials.pruned, trials.failed, trials.fit_seconds)
                ),
            ]
        )
    return rows


def comparison_figures(index: SegmentsIndex) -> dict[str, Any]:
    import plotly.graph_objects as go

    own = [(k, e) for k, e in ranked(index) if not e.fallback]
    metric = index.metric
    scatter = go.Figure()
    scatter.add_scatter(
        x=[e.rows.get("train", 0) for _, e in own],
        y=[e.metric for _, e in own],
        text=[k for k, _ in own],
        mode="markers+text",
        textposition="top center",
        name="segments",
    )
    scatter.add_hline(y=index.global_model.metric, line_dash="dash", annotation_text="global model")
    scatter.update_layout(
        title=f"{metric} against train rows", xaxis_title="train rows", yaxis_title=metric
    )
    spent = go.Figure()
    spent.add_bar(
        x=[k for k, _ in own],
        y=[(e.trials or StudyTrials()).fit_seconds for _, e in own],
        name="training seconds",
    )
    spent.update_layout(title="Time spent per segment", yaxis_title="training seconds")
    return {f"{metric} against rows": scatter, "Time per segment": spent}


def write_segments_report(path: Path, index: SegmentsIndex) -> Path:
    """Write the run-level page of ``index`` to ``path`` (self-contained, opens offline)."""
    page = render(
        "segments.html.j2",
        title=f"{index.pipeline}, ds={index.ds}: segments",
        metric=index.metric,
        glob=index.global_model,
        report=REPORT_FILE,
        fallback=index.fallbacks,
        head=ranking_head(index.metric),
        rows=ranking_rows(index),
        figures=[(t, figure_html(f)) for t, f in comparison_figures(index).items()],
    )
    write_text_atomically(path, page)
    return path
