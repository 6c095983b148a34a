"""A segmented run's export: the global model, then each tuned segment's, each with its
own champion decision; a run-level index (``segments.json``) and page (``segments.html``).

A segment whose study has nothing to export (no completed trial, a non-finite value)
is recorded as failed in the index and keeps its champion; the others are exported
all the same. The global model must export: without it nothing serves the fallback.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import (
    ExportRefused,
    ModelCard,
    NoCompletedTrial,
    read_stages,
    write_text_atomically,
)
from tasks.export.best_model import export_best
from tasks.export.champion import champion_lock
from tasks.export.history import history_entry, record_run
from tasks.export.segments_report import write_segments_report
from tasks.model import plan_segments, read_manifest
from tasks.tuning import budget_counts, study_name, trial_record

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

    from tasks.core import Layout, PipelineSpec

FAILED = "export_failed"


def segment_trials(storage: BaseStorage, name: str) -> dict[str, Any]:
    """A study's trial counts and the seconds its trials spent training."""
    import optuna

    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    counts = budget_counts(trials)
    seconds = sum(float(trial_record(t).get("fit_seconds", 0.0)) for t in trials)
    return {
        "complete": counts.get("complete", 0),
        "pruned": counts.get("pruned", 0),
        "failed": counts.get("fail", 0),
        "fit_seconds": round(seconds, 3),
    }


def model_entry(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "model_dir": str(Path(summary["model_path"]).parent),
        "metric": summary["value"],
        "promoted": summary["promoted"],
        "reason": summary["reason"],
    }


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
    entries: dict[str, dict[str, Any]] = {}
    for key, rows in sorted(plan.rows.items()):
        entry: dict[str, Any] = {
            "value": (manifest.segments or {})[key].value,
            "rows": rows,
        }
        if key in plan.tuned:
            name = study_name(spec.name, layout.ds, key)
            entry["study"] = name
            entry["trials"] = segment_trials(storage, name)
            try:
                summary = export_best(spec, whole.for_segment(key), storage, storage_kind, run_id)
            except (NoCompletedTrial, ExportRefused) as exc:
                entry.update(fallback=True, fallback_reason=FAILED, error=str(exc))
            else:
                entry.update(fallback=False, **model_entry(summary))
        else:
            entry.update(fallback=True, fallback_reason=plan.fallback[key])
        entries[key] = entry
    index = {
        "pipeline": spec.name,
        "ds": layout.ds,
        "run_id": run_id,
        "metric": spec.metric,
        "direction": spec.study_direction,
        "segmentation": spec.segments.model_dump(mode="json") if spec.segments else None,
        "plan": plan.as_record(),
        "global": {
            "study": study_name(spec.name, layout.ds),
            "trials": segment_trials(storage, study_name(spec.name, layout.ds)),
            **model_entry(global_summary),
        },
        "segments": entries,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_text_atomically(whole.segments_index_file, json.dumps(index, indent=2))
    write_segments_report(whole.segments_report_file, index)
    own = sum(1 for e in entries.values() if not e["fallback"])
    counts = {
        "own_model": own,
        "fallback": len(entries) - own,
        "promoted": sum(1 for e in entries.values() if e.get("promoted")),
    }
    line = history_entry(ModelCard.read(whole.card_file), read_stages(whole))
    with champion_lock(whole):
        record_run(whole, line.model_copy(update={"segments": counts}))
    return {
        **global_summary,
        "segments_index": str(whole.segments_index_file),
        "segments_report": str(whole.segments_report_file),
        "segments_exported": own,
        "segments_fallback": len(entries) - own,
        "segments_failed": sorted(
            k for k, e in entries.items() if e.get("fallback_reason") == FAILED
        ),
    }


def read_segments_index(layout: Layout) -> dict[str, Any]:
    return dict(json.loads(layout.whole.segments_index_file.read_text()))
