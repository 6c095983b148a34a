"""One Optuna study per (pipeline, ds), with a global trial budget held in the storage.

The budget is enqueued up front as WAITING trials. Workers claim one at a time with
the storage's atomic WAITING -> RUNNING transition (a row lock in MySQL, the journal's
file lock otherwise), so any number of workers finish exactly the budget, never more.
A failed trial that is retried is replaced by its retry (see
``tasks.tuning.storage.stale_retry``), so complete + pruned + failed-for-good always adds
up to the budget.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tasks.tuning.deadline import Deadline, iso
from tasks.tuning.samplers import warm_startup_trials
from tasks.tuning.storage import beat, retried_numbers, trial_counts, waiting_trial_ids
from tasks.tuning.warm_start import warm_start_trials

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    import optuna
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

    from tasks.core import PipelineSpec
    from tasks.model import SegmentPlan

log = logging.getLogger(__name__)

BUDGET_ATTR = "retune_budget"
# One user attr per trial holds what Retune records about it (worker, seed, device,
# attempt, host, fit_seconds, best_rounds, fail_reason): one write, not one per field.
RECORD_ATTR = "retune"
PARENT_ATTR = "retune_parent_study"
# How a warm study uses its parent: trials enqueued, the sampler's start-up trials.
WARM_POLICY_ATTR = "retune_warm_start"
SEGMENT_ATTR = "retune_segment"
# Waiting trials a claim looks at: more than the workers that may race for them.
CANDIDATES = 32


def study_name(pipeline: str, ds: str, segment: str | None = None) -> str:
    """``retune.<pipeline>.<ds>``, and ``.<segment>`` after it for a segment's study."""
    return f"retune.{pipeline}.{ds}" + ("" if segment is None else f".{segment}")


def trial_record(trial: FrozenTrial) -> dict[str, Any]:
    """What Retune recorded on ``trial`` (empty for a trial no worker has run)."""
    return dict(trial.user_attrs.get(RECORD_ATTR, {}))


def counted_trials(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The trials that count against the budget: every trial except retried failures."""
    from optuna.trial import TrialState

    retried = retried_numbers(trials)
    return [t for t in trials if not (t.state == TrialState.FAIL and t.number in retried)]


def archive_study(storage: BaseStorage, name: str) -> str | None:
    """Copy study ``name`` aside (nothing is lost) and delete it; its archive name or None."""
    import optuna

    try:
        storage.get_study_id_from_name(name)
    except KeyError:
        return None
    archive = f"{name}.archived-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
    optuna.copy_study(
        from_study_name=name, from_storage=storage, to_storage=storage, to_study_name=archive
    )
    optuna.delete_study(study_name=name, storage=storage)
    return archive


def create_study(
    storage: BaseStorage,
    spec: PipelineSpec,
    ds: str,
    fresh: bool = False,
    now: float | None = None,
    plan: SegmentPlan | None = None,
) -> dict[str, Any]:
    """Create the run's studies for (``spec.name``, ``ds``) or resume them, and top up
    their budgets: the pipeline's study (all rows; an unsegmented pipeline's only one) and
    one per segment ``plan`` tunes (default: no segment, ``tuning.n_trials``).

    Idempotent: a rerun with the same budget adds no trial; a larger budget adds the
    difference; a smaller one never removes trials. ``fresh`` archives every study of the
    ds first (a segment no longer tuned included) and starts anew. A new study is
    warm-started from the previous ds (of the same segment) when the spec allows it. The
    deadline (if any) starts now, so a rerun gets its full time again.

    Returns the pipeline study's summary; with tuned segments, theirs under ``segments``
    and the plan under ``plan``.
    """
    from tasks.model import SegmentPlan

    plan = plan or SegmentPlan(spec.tuning.n_trials)
    archived = {}
    if fresh:
        archived = {
            name: archive_study(storage, name) for name in ds_study_names(storage, spec.name, ds)
        }
    summary = budget_study(storage, spec, ds, None, plan.global_trials, now)
    summary["archived_as"] = archived.get(summary["study_name"])
    if not plan.tuned:
        return summary
    segments = {
        segment: budget_study(storage, spec, ds, segment, budget, now)
        for segment, budget in plan.tuned.items()
    }
    return {**summary, "plan": plan.as_record(), "segments": segments}


def budget_study(
    storage: BaseStorage,
    spec: PipelineSpec,
    ds: str,
    segment: str | None,
    n_trials: int,
    now: float | None,
) -> dict[str, Any]:
    """One study of the run (the pipeline's, or ``segment``'s) opened with ``n_trials``
    counted or waiting, and its deadline started."""
    name = study_name(spec.name, ds, segment)
    study = open_study(storage, spec, name)
    counted = len(counted_trials(study.get_trials(deepcopy=False)))
    parent, warm, missing = enqueue_budget(storage, study, spec, ds, segment, n_trials, counted)
    budget = max(n_trials, counted)
    deadline = Deadline.starting_now(
        spec.tuning.timeout_minutes, spec.tuning.deadline_grace_minutes, now
    )
    record_study_attrs(study, spec, budget, deadline, parent, len(warm), segment)
    return {
        "study_name": name,
        "budget": budget,
        "enqueued": len(warm) + missing,
        "warm_started": len(warm),
        "parent_study": parent if parent is not None else study.user_attrs.get(PARENT_ATTR),
        "deadline": iso(deadline.soft),
    }


def open_study(storage: BaseStorage, spec: PipelineSpec, name: str) -> optuna.Study:
    """The study ``name``, created or loaded; refused when it goes the other direction."""
    import optuna

    study = optuna.create_study(
        study_name=name, storage=storage, direction=spec.study_direction, load_if_exists=True
    )
    if study.direction.name.lower() != spec.study_direction:
        raise ValueError(
            f"study {name} exists with direction {study.direction.name.lower()}, "
            f"the spec asks for {spec.study_direction}"
        )
    return study


def enqueue_budget(
    storage: BaseStorage,
    study: optuna.Study,
    spec: PipelineSpec,
    ds: str,
    segment: str | None,
    n_trials: int,
    counted: int,
) -> tuple[str | None, list[dict[str, Any]], int]:
    """Top the study up to ``n_trials`` WAITING trials: a new study's first are the
    previous ds's best (when the spec warm-starts). The parent study, the warm trials and
    how many empty ones were enqueued."""
    tuning = spec.tuning
    warm: list[dict[str, Any]] = []
    parent = None
    if counted == 0 and tuning.warm_start and tuning.warm_start_top_k > 0:
        parent, warm = warm_start_trials(
            storage, spec, ds, min(tuning.warm_start_top_k, n_trials), segment
        )
    for item in warm:
        study.enqueue_trial(item["params"], user_attrs={"warm_start_from": item["source"]})
    missing = max(0, n_trials - counted - len(warm))
    for _ in range(missing):
        study.enqueue_trial({}, skip_if_exists=False)
    return parent, warm, missing


def record_study_attrs(
    study: optuna.Study,
    spec: PipelineSpec,
    budget: int,
    deadline: Deadline,
    parent: str | None,
    warm: int,
    segment: str | None,
) -> None:
    """The study's budget, deadline, warm-start policy and segment, as its user attrs."""
    tuning = spec.tuning
    attrs: dict[str, Any] = {BUDGET_ATTR: budget, **deadline.as_attrs()}
    if parent is not None:
        attrs[PARENT_ATTR] = parent
        attrs[WARM_POLICY_ATTR] = {
            "policy": "top_k_first",
            "enqueued": warm,
            "sampler_startup_trials": warm_startup_trials(tuning, warm),
            "pruner_waits_for_own_trials": tuning.fidelity.type == "rounds",
        }
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    if segment is not None:
        study.set_user_attr(SEGMENT_ATTR, segment)
    if segment is None and tuning.parallelism * 4 > budget:
        log.warning(
            "%d parallel workers for a budget of %d trials: the sampler learns little between "
            "rounds; keep parallelism at most a quarter of the budget",
            tuning.parallelism,
            budget,
        )


def ds_study_names(storage: BaseStorage, pipeline: str, ds: str) -> list[str]:
    """The studies of one ds of a pipeline: the global one and its segments' (not archives)."""
    import re

    pattern = re.compile(
        rf"^{re.escape(study_name(pipeline, ds))}(\.(?!archived-)[A-Za-z0-9_-]+)?$"
    )
    return sorted(s.study_name for s in storage.get_all_studies() if pattern.match(s.study_name))


class Claimer:
    """Claims WAITING trials one at a time, atomically (WAITING -> RUNNING in the storage).

    Each claim first looks at the oldest :data:`CANDIDATES` waiting trials (their ids
    only, one light query, so a long waiting queue costs nothing), then claims the first
    one that no other worker took meanwhile. A list kept from an earlier look would be
    stale: the other workers claim while this one trains. The look starts above the
    oldest trial the previous look found waiting (trial ids only grow, so it need not
    scan the claimed and finished trials); when it finds nothing there, it looks at
    the whole study once more before saying none is waiting. The heartbeat is recorded
    before the claim, so a claimed trial is never RUNNING without one (a worker killed
    right after claiming leaves a stale trial, not an eternal one). A claim whose write
    fails is looked for again from the oldest waiting trial, so no trial is left waiting
    behind a later one (the worker's cache relies on that); if the write had in fact
    landed, that trial is RUNNING for nobody and turns stale.
    """

    def __init__(self, storage: BaseStorage, study_id: int) -> None:
        self.storage = storage
        self.study_id = study_id
        self.above_id = -1
        self.lost = 0  # claims another worker won

    def look(self) -> list[int]:
        candidates = waiting_trial_ids(self.storage, self.study_id, CANDIDATES, self.above_id)
        if not candidates and self.above_id >= 0:
            candidates = waiting_trial_ids(self.storage, self.study_id, CANDIDATES)
        if candidates:
            self.above_id = candidates[0] - 1
        return candidates

    def claim(self) -> int | None:
        """The id of the trial now RUNNING for this worker; ``None`` when none is waiting."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        while True:
            candidates = self.look()
            if not candidates:
                return None
            for trial_id in candidates:
                beat(self.storage, trial_id, quiet=True)
                try:
                    if self.storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                        return trial_id
                except UpdateFinishedTrialError:
                    pass
                self.lost += 1


def parallel_cap(budget: int) -> int:
    """How many trials of a segment's study may run at once: a quarter of its budget,
    rounded up (the Bayesian trade-off the spec checks for one study, kept per segment)."""
    return max(1, -(-budget // 4))


class StudiesClaimer:
    """Claims WAITING trials across several studies of one storage (one study per segment),
    each claim as atomic as :class:`Claimer`'s, so no study ever runs more than its budget.

    Each claim counts the waiting trials of every study (one grouped query), then tries the
    studies whose data the worker has already loaded (``loaded``), then the others, each
    group with the most trials left first: a worker stays on the data it holds while that
    has work, and the segments with most left get workers first. With ``max_running``
    (study id -> cap), a study already running that many trials is passed over (one more
    grouped count; two workers claiming at once may pass a cap by one), so the workers
    spread over the segments instead of crowding the first.
    """

    def __init__(
        self,
        storage: BaseStorage,
        study_ids: Sequence[int],
        max_running: Mapping[int, int] | None = None,
    ) -> None:
        self.storage = storage
        self.claimers = {study_id: Claimer(storage, study_id) for study_id in study_ids}
        self.max_running = dict(max_running) if max_running is not None else None

    @property
    def lost(self) -> int:
        return sum(claimer.lost for claimer in self.claimers.values())

    def claim(
        self, loaded: Collection[int] = (), allowed: Collection[int] | None = None
    ) -> tuple[int, int] | None:
        """``(study id, trial id)`` of the trial now RUNNING for this worker; ``None`` when
        no study (of ``allowed``, default all) has a waiting trial it may run now."""
        from optuna.trial import TrialState

        ids = list(self.claimers) if allowed is None else [i for i in self.claimers if i in allowed]
        if len(ids) == 1 and self.max_running is None:  # nothing to choose: no count needed
            trial_id = self.claimers[ids[0]].claim()
            return None if trial_id is None else (ids[0], trial_id)
        while True:
            counts = trial_counts(self.storage, ids)
            full: set[int] = set()
            if self.max_running is not None:
                running = trial_counts(self.storage, ids, TrialState.RUNNING)
                full = {i for i in ids if running[i] >= self.max_running.get(i, running[i] + 1)}
            order = sorted(
                (study_id for study_id, n in counts.items() if n > 0 and study_id not in full),
                key=lambda study_id: (study_id not in loaded, -counts[study_id], study_id),
            )
            if not order:
                return None
            for study_id in order:
                trial_id = self.claimers[study_id].claim()
                if trial_id is not None:
                    return study_id, trial_id


def claim_trial(storage: BaseStorage, study_id: int) -> int | None:
    """Claim one WAITING trial (see :class:`Claimer`); ``None`` when none is waiting."""
    return Claimer(storage, study_id).claim()


def budget_counts(trials: list[FrozenTrial]) -> dict[str, int]:
    """Counted trials by state, plus ``retried``: failures replaced by a retry."""
    counts: dict[str, int] = {}
    for trial in counted_trials(trials):
        key = trial.state.name.lower()
        counts[key] = counts.get(key, 0) + 1
    counts["retried"] = len(retried_numbers(trials))
    return counts


def study_summary(study: optuna.Study) -> dict[str, Any]:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = budget_counts(trials)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    return {
        "study_name": study.study_name,
        "budget": study.user_attrs.get(BUDGET_ATTR),
        "trials": counts,
        "finished": sum(counts.get(s, 0) for s in ("complete", "pruned", "fail")),
        "best_value": study.best_value if complete else None,
    }
