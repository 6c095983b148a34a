"""An Optuna worker: claim and run trials of the run's studies until none is left, with
each study's data loaded once (the whole snapshot, or one segment's rows).

The loop, per round: fail stale trials (at most once per heartbeat interval; their
retries are enqueued), skip the studies whose deadline has passed, claim one WAITING
trial (of a study whose data the worker holds first), run it under a heartbeat. With
nothing to claim, the worker waits while other workers still run trials, because one of
those may turn stale and come back as a retry; it leaves when no trial is waiting or
running in any of its studies.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.model import (
    Matrices,
    TrainedSoFar,
    base_params,
    best_rounds,
    fit,
    load_snapshot,
    plan_memory,
)
from tasks.tuning.checkpoints import TrialCheckpoints, chain_start
from tasks.tuning.deadline import Deadline, DeadlineReached
from tasks.tuning.fidelity import run_rungs, rung_pruner
from tasks.tuning.loaded_data import LoadedData
from tasks.tuning.samplers import (
    WindowedSampler,
    build_pruner,
    build_sampler,
    pruning_callback,
)
from tasks.tuning.search_space import suggest
from tasks.tuning.seeds import study_seed
from tasks.tuning.storage import (
    StorageGuard,
    ensure_retry,
    fail_stale_trials,
    heartbeat,
    params_held,
    trial_counts,
    trial_id_of,
    write_held_params,
)
from tasks.tuning.study import (
    BUDGET_ATTR,
    RECORD_ATTR,
    WARM_POLICY_ATTR,
    StudiesClaimer,
    parallel_cap,
)

if TYPE_CHECKING:
    import optuna
    import xgboost as xgb
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial, TrialState

    from tasks.core import PipelineSpec

log = logging.getLogger(__name__)

# How often an idle worker looks again for waiting or stale trials (one light query).
IDLE_POLL_SECONDS = 0.25

# fit(params, matrices, num_boost_round, early_stopping_rounds, callbacks) -> (booster, value)
TrainFn = Callable[
    [dict[str, Any], Matrices, int, "int | None", Sequence[Any]], "tuple[xgb.Booster, float]"
]


@dataclass(frozen=True)
class WorkerIdentity:
    map_index: int
    partition: int
    attempt: int
    seed: int
    device: str

    @property
    def label(self) -> str:
        return f"w{self.map_index}.p{self.partition}.a{self.attempt}"

    def trial_attrs(self) -> dict[str, Any]:
        return {
            "worker": self.label,
            "seed": self.seed,
            "device": self.device,
            "attempt": self.attempt,
            "host": f"{socket.gethostname()}:{os.getpid()}",
        }


@dataclass(frozen=True)
class WorkerContext:
    """What a worker sets up once and every trial reuses."""

    storage: BaseStorage
    study: optuna.Study
    spec: PipelineSpec
    identity_record: dict[str, Any]
    fixed_params: dict[str, Any]
    matrices: Matrices
    stop_at_deadline: Any  # an XGBoost callback
    guard: StorageGuard
    train: TrainFn
    checkpoint_root: Path | None = None


@dataclass
class TrialOutcome:
    state: str  # complete | pruned | fail | lost
    reason: str | None = None


@dataclass
class TrialRun:
    """One claimed trial on its way: what each step of :func:`run_trial` adds."""

    trial_id: int
    trial: optuna.Trial
    claimed: FrozenTrial
    params: dict[str, Any]
    record: dict[str, Any]
    callbacks: list[Any]
    checkpoints: TrialCheckpoints | None = None
    resume: TrainedSoFar | None = None
    seed: int = 0


@dataclass
class Fitted:
    """How the trial's fit ended."""

    state: TrialState
    value: float | None = None
    reason: str | None = None
    rounds: int | None = None


def run_trial(worker: WorkerContext, trial_id: int) -> TrialOutcome:
    """Run one claimed trial to a final state; failures are retried with the same params.

    A trial that another worker failed as stale meanwhile (this one was too slow to beat
    its heartbeat, on a loaded machine) is dropped as ``lost``, whichever step finds it:
    its retry carries the parameters on."""
    import optuna

    try:
        run = start_trial(worker, trial_id)
        fitted = fit_trial(worker, run)
    except optuna.exceptions.UpdateFinishedTrialError:
        log.warning("trial of id %d was taken over as stale before it trained", trial_id)
        return TrialOutcome("lost", None)
    return finish_trial(worker, run, fitted)


def start_trial(worker: WorkerContext, trial_id: int) -> TrialRun:
    """Open the claimed trial, write its parameters and the worker's record, and set up its
    callbacks (deadline, pruning, checkpoints)."""
    import optuna

    spec, guard = worker.spec, worker.guard
    claimed = read_claimed(worker, trial_id)
    trial = guard.call("open the trial", optuna.Trial, worker.study, trial_id)
    # Parameters first, all in one write: a trial that carries a worker's record has all
    # its parameters, so a stale retry of it always has them to repeat.
    with params_held(worker.storage, trial_id):
        params = guard.call("suggest parameters", suggest, trial, spec.search_space)
    guard.call("write the parameters", write_held_params, worker.storage, trial_id)
    record = dict(worker.identity_record)
    guard.call("record the worker", trial.set_user_attr, RECORD_ATTR, record)
    run = TrialRun(trial_id, trial, claimed, params, record, [worker.stop_at_deadline])
    tuning = spec.tuning
    if tuning.fidelity.type != "rows" and tuning.pruner.type != "none":
        run.callbacks.append(
            pruning_callback(trial, f"valid-{spec.metric}", tuning.pruner, tuning.num_boost_round)
        )
    add_checkpoints(worker, run)
    return run


def read_claimed(worker: WorkerContext, trial_id: int) -> FrozenTrial:
    """The claimed trial, from the trial's one read of the study: the storage cache learns
    the claimed trial (it skips waiting trials, see tasks.tuning.storage.worker_storage)
    before anything is written to it, and the sampler models what this read found."""
    from optuna.trial import TrialState

    study, guard = worker.study, worker.guard
    trials = guard.call("read the study", study.get_trials, deepcopy=False)
    claimed = next(  # a trial just claimed is among the newest
        (t for t in reversed(trials) if trial_id_of(t) == trial_id), None
    )
    if claimed is None or claimed.state != TrialState.RUNNING:
        # No longer running: the outcome's write will tell.
        return guard.call("read the trial", worker.storage.get_trial, trial_id)
    if isinstance(study.sampler, WindowedSampler):
        study.sampler.use_trials(study, claimed.number, trials)
    return claimed


def add_checkpoints(worker: WorkerContext, run: TrialRun) -> None:
    """The trial's checkpoint callback, and the point a retry resumes from, if any."""
    tuning = worker.spec.tuning
    run.checkpoints, run.resume = open_checkpoints(worker, run.claimed, run.params)
    run.seed = worker.fixed_params["seed"]
    resume = run.resume
    if resume is not None:
        # The attempt that saved it goes on: its seed, from its round.
        run.seed = resume.seed if resume.seed is not None else run.seed
        run.record.update(resumed_from_round=resume.rounds, seed=run.seed)
        log.info("trial %d resumes from round %d", run.trial.number, resume.rounds)
    if run.checkpoints is not None:
        run.callbacks.append(
            run.checkpoints.callback(
                worker.spec.metric,
                resume.curve if resume else [],
                run.seed,
                tuning.checkpoint_every_rounds,
                tuning.checkpoint_every_minutes,
            )
        )


def fit_trial(worker: WorkerContext, run: TrialRun) -> Fitted:
    """Train the trial under its heartbeat (its row-sample rungs first, unless it resumes);
    the fit's outcome goes into the trial's record."""
    import optuna
    from optuna.trial import TrialState

    tuning = worker.spec.tuning
    by_rows = tuning.fidelity.type == "rows"
    params = {**worker.fixed_params, **run.params, "seed": run.seed}
    rungs: list[dict[str, Any]] = []
    fitted = Fitted(TrialState.FAIL)

    def fit_rung(sample: Matrices) -> float:
        stop = [worker.stop_at_deadline]
        return worker.train(
            params, sample, tuning.num_boost_round, tuning.early_stopping_rounds, stop
        )[1]

    run.record["fit_started"] = round(time.time(), 3)  # epoch; the storage keeps whole seconds
    started = time.perf_counter()
    with heartbeat(worker.storage, run.trial_id, tuning.heartbeat_seconds):
        try:
            if by_rows and run.resume is None:
                # A retry resuming from a checkpoint passed its rungs before (the
                # checkpoints are of the all-rows fit).
                run_rungs(run.trial, tuning.fidelity, worker.matrices, fit_rung, rungs)
            booster, fitted.value = worker.train(
                params,
                worker.matrices,
                tuning.num_boost_round,
                tuning.early_stopping_rounds,
                run.callbacks,
                **({"resume": run.resume} if run.resume is not None else {}),
            )
            fitted.rounds = best_rounds(booster, tuning.num_boost_round)
            fitted.state = TrialState.COMPLETE
        except optuna.TrialPruned:
            fitted.state = TrialState.PRUNED
        except DeadlineReached as exc:
            fitted.reason = str(exc)
        except Exception as exc:
            fitted.reason = f"{type(exc).__name__}: {exc}"[:500]
    if fitted.state == TrialState.COMPLETE and (
        fitted.value is None or not math.isfinite(fitted.value)
    ):
        fitted.state, fitted.reason = TrialState.FAIL, f"objective returned {fitted.value}"
    record_fit(run, fitted, rungs, by_rows, time.perf_counter() - started)
    return fitted


def record_fit(
    run: TrialRun, fitted: Fitted, rungs: list[dict[str, Any]], by_rows: bool, seconds: float
) -> None:
    from optuna.trial import TrialState

    record = run.record
    record["fit_seconds"] = round(seconds, 4)
    if by_rows:
        # The rung reached: 0 for the smallest sample; len(rungs) means all rows.
        record["rung"] = len(rungs) - (fitted.state == TrialState.PRUNED)
        record["rungs"] = rungs
    if fitted.rounds is not None:
        record["best_rounds"] = fitted.rounds
    if fitted.reason is not None:
        record["fail_reason"] = fitted.reason
    if run.checkpoints is not None and run.checkpoints.saved:
        record["checkpoints_saved"] = run.checkpoints.saved


def finish_trial(worker: WorkerContext, run: TrialRun, fitted: Fitted) -> TrialOutcome:
    """Write the outcome; a failed trial gets its retry (which resumes from its checkpoint,
    kept for it), any other outcome removes the checkpoints."""
    import optuna
    from optuna.trial import TrialState

    guard, trial, state, reason = worker.guard, run.trial, fitted.state, fitted.reason
    try:
        guard.call("record the outcome", trial.set_user_attr, RECORD_ATTR, run.record)
        told = guard.call(
            "finish the trial",
            worker.study.tell,
            trial,
            fitted.value if state == TrialState.COMPLETE else None,
            state=state,
            skip_if_finished=True,
        )
    except optuna.exceptions.UpdateFinishedTrialError:
        told = None
    if told is None or told.state != state:
        # Another worker found this trial stale (this one lost its heartbeat) and failed it;
        # its retry carries the parameters on, and resumes from its checkpoint.
        log.warning("trial %d was taken over as stale; its outcome is dropped", trial.number)
        return TrialOutcome("lost", reason)
    if state == TrialState.FAIL:
        log.warning("trial %d failed: %s", trial.number, reason)
        retried = guard.call(
            "enqueue a retry",
            ensure_retry,
            worker.storage,
            worker.study,
            told,
            reason or "failed",
            worker.spec.tuning.max_trial_retries,
        )
        if not retried:
            log.warning("trial %d failed for good after its retries", trial.number)
        if retried and run.checkpoints is not None:
            return TrialOutcome(state.name.lower(), reason)  # the retry resumes from it
    if run.checkpoints is not None:
        run.checkpoints.remove()
    return TrialOutcome(state.name.lower(), reason)


def open_checkpoints(
    worker: WorkerContext, frozen: FrozenTrial, params: dict[str, Any]
) -> tuple[TrialCheckpoints | None, TrainedSoFar | None]:
    """The trial's checkpoints (none when the worker keeps none) and the point to resume
    from, when an earlier attempt of its retry chain saved one."""
    tuning = worker.spec.tuning
    if worker.checkpoint_root is None or not (
        tuning.checkpoint_every_rounds or tuning.checkpoint_every_minutes
    ):
        return None, None
    checkpoints = TrialCheckpoints(
        worker.checkpoint_root, chain_start(frozen.number, frozen.system_attrs), params
    )
    try:
        resume = checkpoints.load()
    except (OSError, ValueError, KeyError) as exc:  # unreadable: start from round zero
        log.warning(
            "trial %d: checkpoint in %s unreadable (%s)", frozen.number, checkpoints.folder, exc
        )
        resume = None
    return checkpoints, resume


def run_worker(
    storage: BaseStorage,
    studies: Mapping[str, str | None],
    spec: PipelineSpec,
    dataset_dir: str,
    identity: WorkerIdentity,
    train: TrainFn = fit,
    checkpoint_dirs: Mapping[str | None, Path] | None = None,
) -> dict[str, Any]:
    """Run trials of the run's studies (``studies``: name -> its segment, ``None`` for all
    rows; an unsegmented run has the one study) until none is waiting or running in any;
    a small summary.

    A segment's matrices are built when the worker first claims one of its trials and
    kept while the worker's memory budget allows
    (:class:`~tasks.tuning.loaded_data.LoadedData`); a run of all rows only builds them
    at once. ``checkpoint_dirs`` (shared storage, by segment) keeps checkpoints of long
    trials, see :mod:`tasks.tuning.checkpoints`; without one, a retried trial starts from
    round zero.
    """
    import warnings

    import optuna

    # Heartbeats, stale-trial retries and TPE's group option are marked experimental;
    # Retune pins Optuna and tests them, so the per-call warnings are noise.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    whole = load_snapshot(dataset_dir, spec, identity.device, verify=False)
    # What the executor was given (the whole snapshot's need, or the spec's budget).
    budget = plan_memory(whole.manifest, spec).data_budget_bytes
    data = LoadedData(dataset_dir, spec, identity.device, budget)
    try:
        if set(studies.values()) == {None}:
            data.get(None)
        summary = work_on_studies(
            storage, studies, spec, identity, train, data, dict(checkpoint_dirs or {})
        )
    finally:
        data.close()
    return summary


@dataclass
class StudyWork:
    """One study a worker pulls trials from, and what its trials run with once loaded."""

    name: str
    segment: str | None
    study: optuna.Study
    study_id: int
    deadline: Deadline
    context: WorkerContext | None = None


def open_studies(
    storage: BaseStorage,
    studies: Mapping[str, str | None],
    spec: PipelineSpec,
    identity: WorkerIdentity,
    guard: StorageGuard,
) -> dict[int, StudyWork]:
    import optuna

    tuning = spec.tuning
    works: dict[int, StudyWork] = {}
    for name, segment in studies.items():
        study = guard.call("load the study", optuna.load_study, study_name=name, storage=storage)
        warm = study.user_attrs.get(WARM_POLICY_ATTR) or {}
        study.sampler = build_sampler(
            tuning, study_seed(identity.seed, segment), warm.get("sampler_startup_trials")
        )
        # By rows, the rungs' pruner is set once the worker knows the data's rungs.
        study.pruner = (
            build_pruner(tuning.pruner, tuning.num_boost_round, int(warm.get("enqueued", 0)))
            if tuning.fidelity.type == "rounds"
            else optuna.pruners.NopPruner()
        )
        study_id = guard.call("find the study", storage.get_study_id_from_name, name)
        works[study_id] = StudyWork(name, segment, study, study_id, Deadline.of(study))
    return works


def work_context(
    storage: BaseStorage,
    work: StudyWork,
    spec: PipelineSpec,
    identity: WorkerIdentity,
    train: TrainFn,
    data: LoadedData,
    guard: StorageGuard,
    checkpoint_root: Path | None,
) -> WorkerContext:
    """What a trial of ``work`` runs with: its segment's matrices, built now if not held."""
    loaded = data.get(work.segment)
    if work.context is not None and work.context.matrices is loaded.matrices:
        return work.context
    record = {**identity.trial_attrs(), "matrix": loaded.matrices.mode}
    if work.segment is not None:
        record["segment"] = work.segment
    if spec.tuning.fidelity.type == "rows":
        fractions = tuple(sorted(loaded.matrices.samples))
        work.study.pruner = rung_pruner(spec.tuning.fidelity, fractions)
    work.context = WorkerContext(
        storage=storage,
        study=work.study,
        spec=spec,
        identity_record=record,
        fixed_params=base_params(spec, identity.device, identity.seed, loaded.snapshot),
        matrices=loaded.matrices,
        stop_at_deadline=work.deadline.callback(),
        guard=guard,
        train=train,
        checkpoint_root=checkpoint_root,
    )
    return work.context


def studies_claimer(storage: BaseStorage, works: Mapping[int, StudyWork]) -> StudiesClaimer:
    """Claims across the worker's studies; with segments the workers spread: no study runs
    more than its share of trials at once."""
    caps = None
    if len(works) > 1:
        caps = {
            i: parallel_cap(int(w.study.user_attrs.get(BUDGET_ATTR, 1))) for i, w in works.items()
        }
    return StudiesClaimer(storage, list(works), caps)


def time_to_leave(
    storage: BaseStorage,
    works: Mapping[int, StudyWork],
    spec: PipelineSpec,
    guard: StorageGuard,
    checkpoint_dirs: dict[str | None, Path],
) -> bool:
    """With nothing to claim: whether the worker leaves (no trial running in its studies,
    or only trials past their hard deadline) or waits for a running one to turn stale."""
    from optuna.trial import TrialState

    running = guard.call(
        "look for running trials", trial_counts, storage, list(works), TrialState.RUNNING
    )
    if not any(running.values()):
        for work in works.values():
            root = checkpoint_dirs.get(work.segment)
            if root is not None and not work.deadline.no_new_trials():
                # Nothing waiting or running: no trial will resume. (After the deadline a
                # retry may wait for a rerun, and keeps its checkpoint.)
                shutil.rmtree(root, ignore_errors=True)
        return True
    late = time.time() - spec.tuning.stale_after_seconds
    if all(works[i].deadline.hard_passed(late) for i, n in running.items() if n):
        log.warning("hard deadline passed; leaving trials of other workers running")
        return True
    return False


def work_on_studies(
    storage: BaseStorage,
    studies: Mapping[str, str | None],
    spec: PipelineSpec,
    identity: WorkerIdentity,
    train: TrainFn,
    data: LoadedData,
    checkpoint_dirs: dict[str | None, Path],
) -> dict[str, Any]:
    """Claim and run trials of ``studies`` until none is waiting or running in any."""

    tuning = spec.tuning
    guard = StorageGuard(tuning.storage_outage_seconds)
    works = open_studies(storage, studies, spec, identity, guard)
    claimer = studies_claimer(storage, works)
    done: dict[str, int] = {"complete": 0, "pruned": 0, "fail": 0, "lost": 0}
    waited, next_stale_check = 0.0, 0.0
    while True:
        if time.monotonic() >= next_stale_check:
            for work in works.values():
                fail_stale_trials(storage, work.study, guard, tuning.max_trial_retries)
            next_stale_check = time.monotonic() + tuning.heartbeat_seconds
        open_ids = [i for i, work in works.items() if not work.deadline.no_new_trials()]
        held = [i for i, work in works.items() if work.segment in data.held]
        claimed = guard.call("claim a trial", claimer.claim, held, open_ids) if open_ids else None
        if claimed is None:
            if time_to_leave(storage, works, spec, guard, checkpoint_dirs):
                break
            pause = min(IDLE_POLL_SECONDS, tuning.heartbeat_seconds)
            time.sleep(pause)
            waited += pause
            continue
        study_id, trial_id = claimed
        work = works[study_id]
        context = work_context(
            storage,
            work,
            spec,
            identity,
            train,
            data,
            guard,
            checkpoint_dirs.get(work.segment),
        )
        outcome = run_trial(context, trial_id)
        done[outcome.state] += 1
    modes = sorted(data.modes)
    return {
        "worker": identity.label,
        "seed": identity.seed,
        "device": identity.device,
        "engine": "cudf" if identity.device == "cuda" else "pandas",
        "waited_seconds": waited,
        "storage_retries": guard.retries,
        "claims_lost": claimer.lost,
        "snapshot_reads": dict(data.reads),
        "matrix": modes[0] if len(modes) == 1 else modes,
        **done,
    }
