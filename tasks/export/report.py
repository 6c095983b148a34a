"""The run's report: one self-contained HTML page (opens offline) and PNGs of the key plots.

Plots come from Optuna's visualization module (plotly for the page, matplotlib for the
PNGs); the per-worker timeline is drawn from the trials' Retune records.
"""

from __future__ import annotations

import html
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import PLOTS_DIR, REPORT_FILE
from tasks.export.history import history_html
from tasks.tuning import budget_counts, counted_trials, trial_record

if TYPE_CHECKING:
    import optuna


def optuna_figures(study: optuna.Study) -> dict[str, Any]:
    """Optuna's plotly figures that the study has enough trials for."""
    from optuna import visualization as vis
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    figures: dict[str, Any] = {"Optimization history": vis.plot_optimization_history(study)}
    if len(complete) >= 2 and len(study.best_trial.params) >= 2:
        figures["Parameter importances"] = vis.plot_param_importances(study)
    figures["Parallel coordinates"] = vis.plot_parallel_coordinate(study)
    figures["Slices"] = vis.plot_slice(study)
    return figures


def worker_timeline(study: optuna.Study) -> Any:
    """Each worker's trials as bars over time: gaps show idle workers at a glance."""
    import plotly.graph_objects as go

    figure = go.Figure()
    rows = []
    for trial in study.get_trials(deepcopy=False):
        record = trial_record(trial)
        if "fit_started" not in record:
            continue
        rows.append(
            (record.get("worker", "?"), record["fit_started"], record["fit_seconds"], trial)
        )
    start = min((r[1] for r in rows), default=0.0)
    for state in sorted({r[3].state.name for r in rows}):
        chosen = [r for r in rows if r[3].state.name == state]
        figure.add_bar(
            name=state.lower(),
            orientation="h",
            y=[r[0] for r in chosen],
            base=[r[1] - start for r in chosen],
            x=[r[2] for r in chosen],
            text=[f"trial {r[3].number}" for r in chosen],
        )
    figure.update_layout(
        title="Trials per worker over time",
        barmode="overlay",
        xaxis_title="seconds since the first trial started",
        yaxis_title="worker",
    )
    return figure


def feature_importance(card: dict[str, Any]) -> Any:
    """The model's features by total gain, each labelled with its kind (categorical or
    numeric); a feature never split on has no bar."""
    import plotly.graph_objects as go

    gains = card.get("feature_importance") or {}
    kinds = {f["name"]: f["kind"] for f in card.get("features") or [] if isinstance(f, dict)}
    ranked = sorted(gains.items(), key=lambda item: item[1])
    figure = go.Figure()
    for kind in sorted({kinds.get(name, "numeric") for name, _ in ranked}):
        chosen = [(n, g) for n, g in ranked if kinds.get(n, "numeric") == kind]
        figure.add_bar(
            name=kind,
            orientation="h",
            y=[f"{name} ({kind})" for name, _ in chosen],
            x=[gain for _, gain in chosen],
        )
    figure.update_layout(title="Feature importance (total gain)", xaxis_title="total gain")
    return figure


def state_counts(study: optuna.Study) -> dict[str, int]:
    counts = budget_counts(study.get_trials(deepcopy=False))
    names = {"complete": "complete", "pruned": "pruned", "fail": "failed", "retried": "retried"}
    return {label: counts.get(key, 0) for key, label in names.items()}


def rung_table(study: optuna.Study) -> dict[str, str]:
    """Row-sample fidelity: per rung, how many trials trained on it and how many stopped
    there (pruned); empty when no trial trained on a row sample."""
    from optuna.trial import TrialState

    rungs: dict[float, dict[str, int]] = {}
    full = 0
    for trial in budget_trials(study):
        record = trial_record(trial)
        for index, rung in enumerate(record.get("rungs") or []):
            entry = rungs.setdefault(
                float(rung["fraction"]), {"rows": rung["rows"], "trained": 0, "pruned": 0}
            )
            entry["trained"] += 1
            last = index == len(record["rungs"]) - 1
            entry["pruned"] += last and trial.state == TrialState.PRUNED
        full += "rungs" in record and trial.state == TrialState.COMPLETE
    if not rungs:
        return {}
    table = {
        f"{fraction:.3g} of the train rows ({entry['rows']:,} rows)": (
            f"{entry['trained']} trained, {entry['pruned']} stopped here"
        )
        for fraction, entry in sorted(rungs.items())
    }
    table["all rows"] = f"{full} trained to the end"
    return table


def budget_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return counted_trials(study.get_trials(deepcopy=False))


def _table(rows: dict[str, Any]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in rows.items()
    )
    return f"<table>{cells}</table>"


def drift_section(drift: dict[str, Any] | None) -> str:
    """The features that moved most from the champion's snapshot (scored by materialize)."""
    if not drift:
        return "<p>No drift scored (the snapshot was published before drift profiles).</p>"
    if drift["level"] == "none":
        return f"<p>Nothing to compare with: {html.escape(str(drift.get('reason')))}.</p>"
    accepted = " (accepted by the run parameter accept_drift)" if drift.get("accepted") else ""
    head = (
        "<tr><th>column</th><th>kind</th><th>score</th><th>PSI</th><th>noise</th>"
        "<th>level</th><th>null share</th><th>mean</th><th>bin that moved most</th></tr>"
    )

    def pair(values: list[Any] | None) -> str:
        return " → ".join(_number(v) for v in values or [])

    rows = []
    for name, entry in (drift.get("top") or {}).items():
        moved = entry.get("most_moved_bin") or {}
        cells = [
            name + (" (target)" if entry.get("role") == "target" else ""),
            entry["kind"],
            _number(entry["score"]),
            _number(entry["psi"]),
            _number(entry["noise"]),
            entry["level"],
            pair(entry.get("null_share")),
            pair(entry.get("mean")),
            f"{moved.get('bin')}: {pair([moved.get('reference'), moved.get('today')])}",
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return (
        f"<p>Level <b>{html.escape(drift['level'])}</b>{accepted}, against the champion's "
        f"snapshot of ds={html.escape(str(drift.get('reference_ds')))}; score = PSI less its "
        "sampling noise.</p>"
        f"<table>{head}{''.join(rows)}</table>"
    )


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "" if value is None else str(value)


def write_pngs(study: optuna.Study, folder: Path) -> list[Path]:
    """The key plots as PNG files, for places that do not render HTML."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.exceptions import ExperimentalWarning
    from optuna.visualization import matplotlib as vis

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        for name, plot in (
            ("optimization_history", vis.plot_optimization_history),
            ("parallel_coordinates", vis.plot_parallel_coordinate),
        ):
            plot(study)
            figure = plt.gcf()
            path = folder / f"{name}.png"
            figure.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(figure)
            written.append(path)
    return written


def stage_table(stages: list[dict[str, Any]]) -> str:
    """One row per task instance that finished before export (tune has one per worker)."""
    if not stages:
        return "<p>No stage timings recorded (the run did not go through Airflow).</p>"
    head = "<tr><th>task</th><th>try</th><th>started (UTC)</th><th>seconds</th></tr>"
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            html.escape(s["task"] if s["map_index"] < 0 else f"{s['task']}[{s['map_index']}]"),
            s["try_number"],
            html.escape(s["started"]),
            s["seconds"],
        )
        for s in stages
    )
    return f"<table>{head}{rows}</table>"


def champion_section(card: dict[str, Any]) -> str:
    """The decision on the champion, and the approval asked for it if any."""
    approval = card.get("approval")
    asked = f"<h3>Approval</h3>{_table(approval)}" if approval else ""
    return (
        f'<section id="champion"><h2>Champion</h2>{_table(card.get("champion") or {})}'
        f"{asked}</section>"
    )


def write_report(
    folder: Path,
    study: optuna.Study,
    card: dict[str, Any],
    data_docs: Path | None,
    stages: list[dict[str, Any]] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> Path:
    """Write ``report.html`` and ``plots/*.png`` into ``folder``; return the page's path.

    ``history``: the pipeline's days to chart (this run's among them), or None for none.
    """
    figures = {
        **optuna_figures(study),
        "Feature importance": feature_importance(card),
        "Trials per worker": worker_timeline(study),
    }
    # plotly.js is embedded once, with the first figure on the page, so it works offline.
    history_section = ""
    if history is not None:
        history_section = (
            "<section><h2>History</h2>"
            '<p><a href="../index.html">All days of the pipeline</a></p>'
            f"{history_html(history, include_plotlyjs=True, link_prefix='../')}</section>"
        )
    parts = []
    for index, (title, figure) in enumerate(figures.items()):
        embed = index == 0 and not history
        body = figure.to_html(full_html=False, include_plotlyjs=embed)
        parts.append(f"<section><h2>{html.escape(title)}</h2>{body}</section>")
    validation = (card.get("data") or {}).get("validation") or {}
    docs_link = ""
    if data_docs is not None:
        relative = os.path.relpath(data_docs, folder)
        docs_link = f'<p><a href="{html.escape(relative)}">Great Expectations Data Docs</a></p>'
    summary = {
        "pipeline": card["pipeline"],
        "ds": card["ds"],
        "study": card["study"]["name"],
        "best trial": card["study"]["trial_number"],
        **{name: f"{value:.6g}" for name, value in card["metrics"].items()},
        "device": card["device"],
        "trained on": card.get("trained_on", "train"),
    }
    rungs = rung_table(study)
    rungs_html = f"<h3>Row-sample rungs</h3>{_table(rungs)}" if rungs else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Retune report: {html.escape(card["pipeline"])} ds={html.escape(card["ds"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
th,td{{border:1px solid #ccc;padding:.2em .6em;text-align:left}}</style></head><body>
<h1>Retune: {html.escape(card["pipeline"])}, ds={html.escape(card["ds"])}</h1>
<section><h2>Model</h2>{_table(summary)}</section>
{champion_section(card)}
{history_section}
<section><h2>Trials</h2>{_table(state_counts(study))}{rungs_html}</section>
<section><h2>Validation</h2>{_table(validation)}{docs_link}</section>
<section><h2>Drift</h2>{drift_section((card.get("data") or {}).get("drift"))}</section>
<section><h2>Stage timings</h2>{stage_table(stages or [])}</section>
{"".join(parts)}
</body></html>
"""
    path = folder / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    write_pngs(study, folder / PLOTS_DIR)
    return path
