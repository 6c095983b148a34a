"""A segmented run's export: the global model, then each tuned segment's, each with its
own champion decision; a run-level index (``segments.json``) and page (``segments.html``).

A segment whose study has nothing to export (no completed trial, a non-finite value)
is recorded as failed in the index and keeps its champion; the others are exported
all the same. The global model must export: without it nothing serves the fallback.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import (
    ExportRefused,
    IndexedModel,
    IndexedSegment,
    ModelCard,
    NoCompletedTrial,
    SegmentsIndex,
    StudyTrials,
    read_stages,
)
from tasks.export.best_model import export_best
from tasks.export.champion import champion_lock
from tasks.export.history import history_entry, record_run
from tasks.export.segments_report import write_segments_report
from tasks.model import plan_segments, read_manifest
from tasks.tuning import budget_counts, study_name, trial_record

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

    from tasks.core import Layout, PipelineSpec, SnapshotManifest
    from tasks.model import SegmentPlan

FAILED = "export_failed"


def segment_trials(storage: BaseStorage, name: str) -> StudyTrials:
    """A study's trial counts and the seconds its trials spent training."""
    import optuna

    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    counts = budget_counts(trials)
    seconds = sum(float(trial_record(t).get("fit_seconds", 0.0)) for t in trials)
    return StudyTrials(
        complete=counts.get("complete", 0),
        pruned=counts.get("pruned", 0),
        failed=counts.get("fail", 0),
        fit_seconds=round(seconds, 3),
    )


def model_entry(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "model_dir": str(Path(summary["model_path"]).parent),
        "metric": summary["value"],
        "promoted": summary["promoted"],
        "reason": summary["reason"],
    }


def export_segment(
    spec: PipelineSpec,
    layout: Layout,
    storage: BaseStorage,
    storage_kind: str,
    run_id: str | None,
    key: str,
) -> dict[str, Any]:
    """Export one tuned segment's model; a study with nothing to export is a failure the
    global model covers."""
    name = study_name(spec.name, layout.ds, key)
    entry: dict[str, Any] = {"study": name, "trials": segment_trials(storage, name)}
    try:
        summary = export_best(spec, layout.for_segment(key), storage, storage_kind, run_id)
    except (NoCompletedTrial, ExportRefused) as exc:
        return {**entry, "fallback": True, "fallback_reason": FAILED, "error": str(exc)}
    return {**entry, "fallback": False, **model_entry(summary)}


def indexed_segments(
    spec: PipelineSpec,
    layout: Layout,
    storage: BaseStorage,
    storage_kind: str,
    run_id: str | None,
    manifest: SnapshotManifest,
    plan: SegmentPlan,
) -> dict[str, IndexedSegment]:
    """Every segment of the snapshot: its own model exported, or why it falls back."""
    entries = {}
    for key, rows in sorted(plan.rows.items()):
        known = {"value": (manifest.segments or {})[key].value, "rows": rows}
        if key in plan.tuned:
            outcome = export_segment(spec, layout, storage, storage_kind, run_id, key)
        else:
            outcome = {"fallback": True, "fallback_reason": plan.fallback[key]}
        entries[key] = IndexedSegment.model_validate({**known, **outcome})
    return entries


def export_segments(
    spec: PipelineSpec,
    layout: Layout,
    storage: BaseStorage,
    storage_kind: str,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Export the global model and every tuned segment's; write the index and its page.

    Returns the global model's summary with the index's path and its counts.
    """
    manifest = read_manifest(layout.dataset_dir)
    plan = plan_segments(spec, manifest)
    whole = layout.whole
    global_summary = export_best(spec, whole, storage, storage_kind, run_id, record_history=False)
    global_study = study_name(spec.name, layout.ds)
    index = SegmentsIndex(
        pipeline=spec.name,
        ds=layout.ds,
        run_id=run_id,
        metric=spec.metric,
        direction=spec.study_direction,
        segmentation=spec.segments.model_dump(mode="json") if spec.segments else None,
        plan=plan.as_record(),
        global_model=IndexedModel(
            study=global_study,
            trials=segment_trials(storage, global_study),
            **model_entry(global_summary),
        ),
        segments=indexed_segments(spec, whole, storage, storage_kind, run_id, manifest, plan),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    index.write(whole.segments_index_file)
    write_segments_report(whole.segments_report_file, index)
    record_segmented_run(whole, index)
    return {
        **global_summary,
        "segments_index": str(whole.segments_index_file),
        "segments_report": str(whole.segments_report_file),
        "segments_exported": len(index.own_models),
        "segments_fallback": len(index.fallbacks),
        "segments_failed": sorted(
            k for k, e in index.segments.items() if e.fallback_reason == FAILED
        ),
    }


def record_segmented_run(whole: Layout, index: SegmentsIndex) -> None:
    """The run's history line: the global model's, with its segments counted."""
    counts = {
        "own_model": len(index.own_models),
        "fallback": len(index.fallbacks),
        "promoted": sum(1 for e in index.segments.values() if e.promoted),
    }
    line = history_entry(ModelCard.read(whole.card_file), read_stages(whole))
    with champion_lock(whole):
        record_run(whole, line.model_copy(update={"segments": counts}))


def read_segments_index(layout: Layout) -> SegmentsIndex:
    return SegmentsIndex.read(layout.whole.segments_index_file)
