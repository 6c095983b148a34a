"""Which segments of a snapshot get a tuned model of their own, with which trial budget,
and which are served by the global model (the fallback).

Read from the manifest (each segment's rows per split) and the spec (``segments``), the
same on the driver, in the workers and in export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasks.core import UNMATCHED_SEGMENT, SpecError

if TYPE_CHECKING:
    from tasks.core import PipelineSpec, SnapshotManifest

# Reasons a segment is served by the global model, as the index records them.
TOO_SMALL = "too_small"
NOT_SELECTED = "not_selected"
UNMATCHED = "unmatched"


@dataclass(frozen=True)
class SegmentPlan:
    """The run's models: the global one's budget, each tuned segment's budget, and the
    segments the global model serves (with why)."""

    global_trials: int
    tuned: dict[str, int] = field(default_factory=dict)
    fallback: dict[str, str] = field(default_factory=dict)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total_trials(self) -> int:
        return self.global_trials + sum(self.tuned.values())

    def as_record(self) -> dict[str, Any]:
        return {
            "global_trials": self.global_trials,
            "tuned": dict(self.tuned),
            "fallback": dict(self.fallback),
            "total_trials": self.total_trials,
        }


def plan_segments(spec: PipelineSpec, manifest: SnapshotManifest) -> SegmentPlan:
    """The segment plan of the snapshot of ``manifest``.

    A segment gets its own model when it has at least ``segments.min_rows`` train rows
    and a valid row, and (on a run narrowed by ``segments.only``) is one of those named.
    Each gets ``segments.n_trials``; under ``segments.max_total_trials`` the global model
    keeps its ``tuning.n_trials`` (less if the cap needs it) and the segments share what
    is left evenly, larger segments first.
    """
    segments = spec.segments
    if segments is None:
        return SegmentPlan(spec.tuning.n_trials)
    found: dict[str, dict[str, int]] = {
        key: dict(entry.rows) for key, entry in (manifest.segments or {}).items()
    }
    if segments.only is not None:
        unknown = sorted(set(segments.only) - set(found))
        if unknown:
            raise SpecError(
                f"segments.only names segment(s) {unknown} that the data of ds="
                f"{manifest.ds} does not have; its segments: {sorted(found)}"
            )
    tuned: list[str] = []
    fallback: dict[str, str] = {}
    for key, rows in sorted(found.items()):
        if key == UNMATCHED_SEGMENT:
            fallback[key] = UNMATCHED
        elif rows.get("train", 0) < segments.min_rows or rows.get("valid", 0) < 1:
            fallback[key] = TOO_SMALL
        elif segments.only is not None and key not in segments.only:
            fallback[key] = NOT_SELECTED
        else:
            tuned.append(key)
    # Larger segments first: they get any trial the cap leaves over.
    tuned.sort(key=lambda key: (-found[key]["train"], key))
    global_trials = spec.tuning.n_trials
    budgets = dict.fromkeys(tuned, segments.n_trials)
    cap = segments.max_total_trials
    if cap is not None and global_trials + len(tuned) * segments.n_trials > cap:
        global_trials = min(global_trials, cap - len(tuned))
        if global_trials < spec.tuning.parallelism:
            raise SpecError(
                f"segments.max_total_trials = {cap} leaves too few trials for the global "
                f"model ({spec.tuning.parallelism} workers) and {len(tuned)} segments (at least "
                "one each); raise the cap or segments.min_rows"
            )
        share, extra = divmod(cap - global_trials, len(tuned)) if tuned else (0, 0)
        budgets = {
            key: min(segments.n_trials, share + (1 if i < extra else 0))
            for i, key in enumerate(tuned)
        }
    return SegmentPlan(global_trials, budgets, fallback, found)
