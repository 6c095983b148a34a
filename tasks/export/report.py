"""The run's report: one self-contained HTML page (opens offline) and PNGs of the key plots.

Plots come from Optuna's visualization module (plotly for the page, matplotlib for the
PNGs); the per-worker timeline is drawn from the trials' Retune records. What the page
shows of the study is kept beside it (``report_parts.json``), so that an approval's answer
renders the page again from the settled card.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import (
    PLOTS_DIR,
    REPORT_FILE,
    REPORT_PARTS_FILE,
    DocumentError,
    ReportParts,
    read_stages,
    write_text_atomically,
)
from tasks.export.history import history_view, report_history
from tasks.export.pages import figure_html, render
from tasks.tuning import budget_counts, counted_trials, trial_record

if TYPE_CHECKING:
    import optuna

    from tasks.core import DriftSummary, HistoryLine, Layout, ModelCard

log = logging.getLogger(__name__)


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


def feature_importance(card: ModelCard) -> Any:
    """The model's features by total gain, each labelled with its kind (categorical or
    numeric); a feature never split on has no bar."""
    import plotly.graph_objects as go

    gains = card.feature_importance
    kinds = {f["name"]: f["kind"] for f in card.features}
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


DRIFT_HEAD = (
    "column",
    "kind",
    "score",
    "PSI",
    "noise",
    "level",
    "null share",
    "mean",
    "bin that moved most",
)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "" if value is None else str(value)


def drift_view(drift: DriftSummary | None) -> dict[str, Any] | None:
    """The features that moved most from the champion's snapshot (scored by materialize),
    as the report's Drift section shows them; None when no drift was scored."""
    if drift is None:
        return None

    def pair(values: list[Any] | None) -> str:
        return " → ".join(_short(v) for v in values or [])

    rows = []
    for name, entry in drift.top.items():
        moved = entry.most_moved_bin
        rows.append(
            [
                name + (" (target)" if entry.role == "target" else ""),
                entry.kind,
                *(_short(value) for value in (entry.score, entry.psi, entry.noise)),
                entry.level,
                pair(entry.null_share),
                pair(entry.mean),
                f"{moved.bin}: {pair([moved.reference, moved.today])}",
            ]
        )
    return {**drift.model_dump(), "head": DRIFT_HEAD, "rows": rows}


def stage_rows(stages: list[dict[str, Any]]) -> list[list[Any]]:
    """One row per task instance that finished before export (tune has one per worker)."""
    return [
        [
            s["task"] if s["map_index"] < 0 else f"{s['task']}[{s['map_index']}]",
            s["try_number"],
            s["started"],
            str(s["seconds"]),
        ]
        for s in stages
    ]


def model_summary(card: ModelCard) -> dict[str, Any]:
    return {
        "pipeline": card.pipeline,
        "ds": card.ds,
        "study": card.study.name,
        "best trial": card.study.trial_number,
        **{name: f"{value:.6g}" for name, value in card.metrics.items()},
        "device": card.device,
        "trained on": card.trained_on,
    }


def report_parts(study: optuna.Study, card: ModelCard) -> ReportParts:
    """What the report shows of the study: its figures (as plotly JSON) and rungs."""
    import plotly.io

    figures = {
        **optuna_figures(study),
        "Feature importance": feature_importance(card),
        "Trials per worker": worker_timeline(study),
    }
    return ReportParts(
        figures={title: json.loads(plotly.io.to_json(f)) for title, f in figures.items()},
        rungs=rung_table(study),
    )


def render_report(
    folder: Path,
    card: ModelCard,
    parts: ReportParts,
    stages: list[dict[str, Any]],
    history: list[HistoryLine] | None,
) -> Path:
    """``folder``/report.html from the card, the study's parts, the stage timings and the
    pipeline's days (this run's among them; None for no History section)."""
    import plotly.io

    validation = card.data.validation
    docs = validation.data_docs if validation else None
    page = render(
        "report.html.j2",
        card=card,
        champion=card.champion.model_dump(mode="json") if card.champion else {},
        approval=card.approval.model_dump(mode="json", exclude_none=True)
        if card.approval
        else None,
        summary=model_summary(card),
        history=None if history is None else history_view(history, link_prefix="../"),
        trials=card.trials,
        rungs=parts.rungs,
        validation=validation.model_dump() if validation else {},
        data_docs=os.path.relpath(docs, folder) if docs else None,
        drift=drift_view(card.data.drift),
        stages=stage_rows(stages),
        figures=[
            (title, figure_html(plotly.io.from_json(json.dumps(figure))))
            for title, figure in parts.figures.items()
        ],
    )
    path = folder / REPORT_FILE
    write_text_atomically(path, page)
    return path


def write_report(
    folder: Path,
    study: optuna.Study,
    card: ModelCard,
    stages: list[dict[str, Any]] | None = None,
    history: list[HistoryLine] | None = None,
) -> Path:
    """Write ``report.html``, its parts and ``plots/*.png`` into ``folder``; return the
    page's path. ``history``: the pipeline's days to chart, or None for none."""
    parts = report_parts(study, card)
    parts.write(folder / REPORT_PARTS_FILE)
    path = render_report(folder, card, parts, stages or [], history)
    write_pngs(study, folder / PLOTS_DIR)
    return path


def render_report_again(layout: Layout, card: ModelCard) -> Path | None:
    """The run's report rendered again as ``card`` now says (an approval settled), from the
    parts its export kept. A report from before those parts keeps its page as it is."""
    if not layout.report_file.is_file():
        return None
    try:
        parts = ReportParts.read(layout.report_parts_file)
    except DocumentError as exc:
        log.warning("%s; the report keeps the Champion section it was written with", exc)
        return None
    history = report_history(layout, None) if layout.segment is None else None
    return render_report(layout.model_dir, card, parts, read_stages(layout), history)
