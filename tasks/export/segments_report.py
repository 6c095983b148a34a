"""The run-level page of a segmented run: the segments ranked by their metric, with rows,
trials, time, promotion and fallback, a link to each segment's own report, and plots
that compare the segments (metric against rows, time spent)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from tasks.core import REPORT_FILE, SEGMENT_DIR_PREFIX, write_text_atomically


def ranked(index: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Segments with a model of their own, best metric first; then the fallback ones."""
    entries = index["segments"]
    own = [(k, e) for k, e in entries.items() if not e["fallback"]]
    sign = -1.0 if index["direction"] == "maximize" else 1.0
    own.sort(key=lambda item: (sign * float(item[1]["metric"]), item[0]))
    rest = sorted(
        ((k, e) for k, e in entries.items() if e["fallback"]),
        key=lambda item: (-item[1]["rows"].get("train", 0), item[0]),
    )
    return own + rest


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"<td>{value:.6g}</td>"
    return f"<td>{html.escape('' if value is None else str(value))}</td>"


def ranking_table(index: dict[str, Any]) -> str:
    head = (
        "<tr><th>rank</th><th>segment</th><th>value</th><th>train rows</th>"
        f"<th>valid rows</th><th>{html.escape(index['metric'])}</th><th>model</th>"
        "<th>promoted</th><th>complete</th><th>pruned</th><th>failed</th>"
        "<th>training seconds</th></tr>"
    )
    rows = []
    for rank, (key, entry) in enumerate(ranked(index), start=1):
        trials = entry.get("trials") or {}
        if entry["fallback"]:
            model = f"global ({entry['fallback_reason'].replace('_', ' ')})"
            link = html.escape(key)
        else:
            model = "own"
            href = f"{SEGMENT_DIR_PREFIX}{key}/{REPORT_FILE}"
            link = f'<a href="{html.escape(href)}">{html.escape(key)}</a>'
        rows.append(
            f"<tr><td>{rank if not entry['fallback'] else ''}</td><td>{link}</td>"
            + _cell(entry.get("value"))
            + _cell(entry["rows"].get("train", 0))
            + _cell(entry["rows"].get("valid", 0))
            + _cell(entry.get("metric"))
            + _cell(model)
            + _cell(entry.get("promoted", ""))
            + "".join(_cell(trials.get(n, "")) for n in ("complete", "pruned", "failed"))
            + _cell(trials.get("fit_seconds", ""))
            + "</tr>"
        )
    return f'<table id="ranking">{head}{"".join(rows)}</table>'


def comparison_figures(index: dict[str, Any]) -> dict[str, Any]:
    import plotly.graph_objects as go

    own = [(k, e) for k, e in ranked(index) if not e["fallback"]]
    metric = index["metric"]
    scatter = go.Figure()
    scatter.add_scatter(
        x=[e["rows"].get("train", 0) for _, e in own],
        y=[e["metric"] for _, e in own],
        text=[k for k, _ in own],
        mode="markers+text",
        textposition="top center",
        name="segments",
    )
    scatter.add_hline(y=index["global"]["metric"], line_dash="dash", annotation_text="global model")
    scatter.update_layout(
        title=f"{metric} against train rows", xaxis_title="train rows", yaxis_title=metric
    )
    spent = go.Figure()
    spent.add_bar(
        x=[k for k, _ in own],
        y=[(e.get("trials") or {}).get("fit_seconds", 0.0) for _, e in own],
        name="training seconds",
    )
    spent.update_layout(title="Time spent per segment", yaxis_title="training seconds")
    return {f"{metric} against rows": scatter, "Time per segment": spent}


def write_segments_report(path: Path, index: dict[str, Any]) -> Path:
    """Write the run-level page of ``index`` to ``path`` (self-contained, opens offline)."""
    parts = []
    for number, (title, figure) in enumerate(comparison_figures(index).items()):
        body = figure.to_html(full_html=False, include_plotlyjs=number == 0)
        parts.append(f"<section><h2>{html.escape(title)}</h2>{body}</section>")
    glob = index["global"]
    fallback = sorted(k for k, e in index["segments"].items() if e["fallback"])
    title = f"{index['pipeline']}, ds={index['ds']}: segments"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Retune segments: {html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
th,td{{border:1px solid #ccc;padding:.2em .6em;text-align:left}}</style></head><body>
<h1>Retune: {html.escape(title)}</h1>
<p>Global model: {html.escape(index["metric"])} {glob["metric"]:.6g}, promoted:
{html.escape(str(glob["promoted"]))} (<a href="{REPORT_FILE}">its report</a>).
It serves {len(fallback)} segment(s): {html.escape(", ".join(fallback) or "none")},
and any segment that appears later.</p>
<section><h2>Segments ranked by {html.escape(index["metric"])}</h2>{ranking_table(index)}</section>
{"".join(parts)}
</body></html>
"""
    write_text_atomically(path, page)
    return path
