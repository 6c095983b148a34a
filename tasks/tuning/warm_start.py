"""Warm start: the previous ds's best parameter sets, enqueued first in a new study."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from tasks.tuning.search_space import fits

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

    from tasks.core import PipelineSpec

log = logging.getLogger(__name__)


def previous_study(
    storage: BaseStorage, pipeline: str, ds: str, segment: str | None = None
) -> str | None:
    """Name of the pipeline's study (of ``segment``'s, for a segment) with the latest ds
    before ``ds`` (archives ignored)."""
    tail = "" if segment is None else re.escape(f".{segment}")
    pattern = re.compile(rf"^retune\.{re.escape(pipeline)}\.(\d{{4}}-\d{{2}}-\d{{2}}){tail}$")
    earlier = [
        (match.group(1), study.study_name)
        for study in storage.get_all_studies()
        if (match := pattern.match(study.study_name)) and match.group(1) < ds
    ]
    return max(earlier)[1] if earlier else None


def warm_start_trials(
    storage: BaseStorage, spec: PipelineSpec, ds: str, top_k: int, segment: str | None = None
) -> tuple[str | None, list[dict[str, Any]]]:
    """(parent study, its top-k parameter sets that fit this spec's search space).

    The parent must be finished: no trial still running, at least one complete. Trials
    whose parameters do not fit the current search space (a parameter added, removed,
    or a value now out of range) are skipped.
    """
    import optuna
    from optuna.trial import TrialState

    parent = previous_study(storage, spec.name, ds, segment)
    if parent is None:
        return None, []
    study = optuna.load_study(study_name=parent, storage=storage)
    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.RUNNING for t in trials):
        log.info("no warm start: %s still has running trials", parent)
        return None, []
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    complete.sort(key=lambda t: float(t.value or 0.0), reverse=study.direction.name == "MAXIMIZE")
    chosen: list[dict[str, Any]] = []
    seen: set[tuple[tuple[str, Any], ...]] = set()
    for trial in complete:
        key = tuple(sorted(trial.params.items()))
        if key in seen or not fits(spec.search_space, trial.params):
            continue
        seen.add(key)
        chosen.append({"params": dict(trial.params), "source": f"{parent}#{trial.number}"})
        if len(chosen) == top_k:
            break
    if not chosen:
        log.info("no warm start: no complete trial of %s fits the search space", parent)
        return None, []
    return parent, chosen
