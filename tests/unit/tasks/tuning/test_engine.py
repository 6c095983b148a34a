"""The tuning engine on the embedded journal storage: budget, retries, deadline, warm start."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy.exc
from optuna.trial import TrialState

from tasks.core import Layout, PipelineSpec, SnapshotCorrupt, journal_path, parse_spec
from tasks.tuning import (
    budget_counts,
    build_sampler,
    counted_trials,
    create_study,
    run_worker,
    study_name,
    suggest,
    worker_heartbeat,
    worker_identity,
)
from tasks.tuning.storage import journal_url, open_storage, trial_counts
from tasks.tuning.storage.stale_retry import STALE_REASON, enqueue_retry
from tasks.tuning.storage.worker_storage import WorkerRDBStorage
from tasks.tuning.study import BUDGET_ATTR, PARENT_ATTR, Claimer, StudiesClaimer, claim_trial
from tests.snapshots import published
from tests.tuning_support import TRAINERS, complete_trials, tuning_spec_data

DS = "2026-11-21"


def make_spec(**tuning: Any) -> PipelineSpec:
    return parse_spec(tuning_spec_data(**tuning))


def worker_storage(tmp_path: Path, spec: PipelineSpec) -> optuna.storages.BaseStorage:
    return open_storage(journal_url(journal_path(tmp_path)), worker_heartbeat(spec))


def run(
    tmp_path: Path,
    spec: PipelineSpec,
    layout: Layout,
    trainer: str,
    map_index: int = 0,
    storage: optuna.storages.BaseStorage | None = None,
) -> dict[str, Any]:
    """One worker on ``storage`` (default: the journal under ``tmp_path``)."""
    identity = worker_identity(spec, map_index, 0, 1)
    return run_worker(
        storage or worker_storage(tmp_path, spec),
        {study_name(spec.name, layout.ds): None},
        spec,
        str(layout.dataset_dir),
        identity,
        train=TRAINERS[trainer],
    )


def trials_of(tmp_path: Path, spec: PipelineSpec, ds: str = DS) -> list[optuna.trial.FrozenTrial]:
    storage = open_storage(journal_url(journal_path(tmp_path)))
    return optuna.load_study(study_name=study_name(spec.name, ds), storage=storage).get_trials()


def fix_params(storage: Any, spec: PipelineSpec, index: int, params: dict[str, Any]) -> None:
    """Give the ``index``-th waiting trial fixed parameters, as enqueue_trial would."""
    study_id = storage.get_study_id_from_name(study_name(spec.name, DS))
    waiting = storage.get_all_trials(study_id, states=(TrialState.WAITING,))
    storage.set_trial_system_attr(waiting[index]._trial_id, "fixed_params", params)


def test_a_failing_region_is_retried_three_times_then_failed_for_good(tmp_path: Path) -> None:
    spec = make_spec(n_trials=8, n_workers=1, pruner={"type": "none"})
    layout = published(tmp_path, spec, DS, rows=400)
    storage = open_storage(journal_url(journal_path(tmp_path)))
    create_study(storage, spec, DS)
    base = {"max_depth": 6, "subsample": 0.8, "colsample_bytree": 0.8}
    base |= {"min_child_weight": 1.0, "reg_lambda": 1.0}
    fix_params(storage, spec, 0, {**base, "learning_rate": 0.25})  # raises
    fix_params(storage, spec, 1, {**base, "learning_rate": 0.05, "max_depth": 3})  # NaN

    summary = run(tmp_path, spec, layout, "fails")

    trials = trials_of(tmp_path, spec)
    counted = counted_trials(trials)
    assert len(counted) == 8  # the budget, exactly
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.FAIL}
    failed_for_good = [t for t in counted if t.state == TrialState.FAIL]
    assert len(failed_for_good) >= 2
    for trial in failed_for_good:
        history = trial.system_attrs["retry_history"]
        assert len(history) == 3  # the original and two retries before this last one
        for number in history:
            assert trials[number].params == trial.params
            assert trials[number].state == TrialState.FAIL
    reasons = {t.user_attrs["retune"]["fail_reason"] for t in failed_for_good}
    assert "ValueError: learning_rate 0.250 diverges" in reasons
    assert "objective returned nan" in reasons
    assert budget_counts(trials)["retried"] == 3 * len(failed_for_good)
    assert summary["complete"] == len(counted) - len(failed_for_good)
    assert summary["fail"] == 4 * len(failed_for_good)


def test_a_stale_trial_is_failed_and_retried_with_the_same_parameters(tmp_path: Path) -> None:
    spec = make_spec(n_trials=3, n_workers=1, heartbeat_seconds=1, pruner={"type": "none"})
    layout = published(tmp_path, spec, DS, rows=400)
    storage = worker_storage(tmp_path, spec)
    create_study(storage, spec, DS)
    # A worker claims a trial, suggests its parameters, then dies without a word.
    study = optuna.load_study(study_name=study_name(spec.name, DS), storage=storage)
    trial_id = claim_trial(storage, storage.get_study_id_from_name(study.study_name))
    assert trial_id is not None
    lost = optuna.Trial(study, trial_id)
    lost_params = suggest(lost, spec.search_space)

    started = time.monotonic()
    summary = run(tmp_path, spec, layout, "stepped")

    assert time.monotonic() - started >= spec.tuning.stale_after_seconds
    trials = trials_of(tmp_path, spec)
    assert trials[lost.number].state == TrialState.FAIL
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == lost.number]
    assert retry.params == lost_params
    assert retry.state == TrialState.COMPLETE
    assert retry.user_attrs["retry_reason"] == STALE_REASON
    assert retry.user_attrs["retune"]["worker"] == "w0.p0.a1"
    assert len(counted_trials(trials)) == 3
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    # The worker stayed for the stale trial and ran its retry itself (whether it had to
    # idle first depends on how long its start took: the trial may be stale by then).
    assert summary["complete"] == 3


def test_a_trial_failed_as_stale_before_it_trained_is_dropped_and_the_worker_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a loaded machine another worker may fail a claimed trial as stale before this one
    has written its parameters: the worker drops it and runs the rest of the budget."""
    from tasks.tuning import worker

    spec = make_spec(n_trials=3, n_workers=1, pruner={"type": "none"})
    layout = published(tmp_path, spec, DS, rows=400)
    storage = worker_storage(tmp_path, spec)
    create_study(storage, spec, DS)
    taken: list[int] = []

    def suggest_after_a_take_over(trial: optuna.Trial, space: Any) -> dict[str, Any]:
        if not taken:  # the first claimed trial: another worker fails it first
            taken.append(trial.number)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        return suggest(trial, space)

    monkeypatch.setattr(worker, "suggest", suggest_after_a_take_over)
    summary = run(tmp_path, spec, layout, "stepped", storage=storage)

    trials = trials_of(tmp_path, spec)
    assert trials[taken[0]].state == TrialState.FAIL and not trials[taken[0]].params
    assert summary["lost"] == 1 and summary["complete"] >= 2
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


def test_retries_stop_after_max_retry() -> None:
    study = optuna.create_study()
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.FAIL,
            params={"x": 1.0},
            distributions={"x": optuna.distributions.FloatDistribution(0, 2)},
            system_attrs={"retry_history": [0, 1, 2]},
        )
    )
    assert not enqueue_retry(study, study.trials[0], "boom", max_retry=3)
    assert enqueue_retry(study, study.trials[0], "boom", max_retry=4)
    assert study.trials[1].state == TrialState.WAITING
    assert study.trials[1].params == {"x": 1.0}
    assert optuna.storages.RetryHeartbeatStaleTrialCallback.retry_history(study.trials[1]) == [
        0,
        1,
        2,
        0,
    ]


def test_deadline_stops_new_trials_and_fails_the_running_one_at_the_hard_limit(
    tmp_path: Path,
) -> None:
    # Deadline after 1.2 s, hard limit 1.2 s later; each trial would take 5 s.
    spec = make_spec(
        n_trials=4,
        n_workers=1,
        num_boost_round=50,
        timeout_minutes=0.02,
        deadline_grace_minutes=0.02,
        pruner={"type": "none"},
    )
    layout = published(tmp_path, spec, DS, rows=400)
    create_study(open_storage(journal_url(journal_path(tmp_path))), spec, DS)

    summary = run(tmp_path, spec, layout, "slow")

    trials = trials_of(tmp_path, spec)
    stopped = [t for t in trials if t.state == TrialState.FAIL]
    assert len(stopped) == 1
    assert "stopped at the study's hard deadline" in stopped[0].user_attrs["retune"]["fail_reason"]
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    # Nothing is lost: the stopped trial and the unstarted ones wait for a rerun.
    assert len([t for t in trials if t.state == TrialState.WAITING]) == 4
    assert summary["fail"] == 1 and summary["complete"] == 0


def test_pruning_with_real_xgboost_records_steps_and_best_rounds(tmp_path: Path) -> None:
    spec = make_spec(
        n_trials=8,
        n_workers=1,
        num_boost_round=30,
        early_stopping_rounds=5,
        sampler={"type": "random"},
        pruner={"type": "median", "n_startup_trials": 1, "n_warmup_steps": 2},
    )
    layout = published(tmp_path, spec, DS, rows=2000)
    create_study(open_storage(journal_url(journal_path(tmp_path))), spec, DS)
    identity = worker_identity(spec, 0, 0, 1)
    run_worker(
        worker_storage(tmp_path, spec),
        {study_name(spec.name, DS): None},
        spec,
        str(layout.dataset_dir),
        identity,
    )
    trials = trials_of(tmp_path, spec)
    states = [t.state for t in trials]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    assert len(trials) == 8
    for trial in trials:
        assert trial.user_attrs["retune"]["device"] == "cpu"
        assert trial.user_attrs["retune"]["seed"] == identity.seed
        assert trial.user_attrs["retune"]["attempt"] == 1
        assert trial.user_attrs["retune"]["fit_seconds"] > 0
        assert len(trial.intermediate_values) >= 3  # one report per boosting round
        if trial.state == TrialState.COMPLETE:
            # early stopping kept the round with the best validation metric
            curve = trial.intermediate_values
            assert trial.user_attrs["retune"]["best_rounds"] - 1 == min(curve, key=curve.get)
            assert trial.value == pytest.approx(
                trial.intermediate_values[trial.user_attrs["retune"]["best_rounds"] - 1]
            )


def test_workers_with_derived_seeds_start_from_distinct_points(tmp_path: Path) -> None:
    """Four parallel workers' first suggestions: distinct with Retune's seeds, not with one seed."""
    spec = make_spec(n_trials=16, n_workers=4, warm_start=False)

    def first_points(seeds: list[int], ds: str) -> set[tuple[tuple[str, Any], ...]]:
        storage = open_storage(journal_url(journal_path(tmp_path)))
        create_study(storage, spec, ds)
        study_id = storage.get_study_id_from_name(study_name(spec.name, ds))
        points = set()
        for seed in seeds:  # all claim before any finishes, as parallel workers do
            sampler = build_sampler(spec.tuning, seed)
            study = optuna.load_study(
                study_name=study_name(spec.name, ds), storage=storage, sampler=sampler
            )
            trial_id = claim_trial(storage, study_id)
            assert trial_id is not None
            points.add(
                tuple(sorted(suggest(optuna.Trial(study, trial_id), spec.search_space).items()))
            )
        return points

    ours = [worker_identity(spec, i, 0, 1).seed for i in range(4)]
    assert len(set(ours)) == 4
    assert len(first_points(ours, "2026-11-20")) == 4
    assert len(first_points([spec.tuning.seed] * 4, "2026-11-21")) == 1  # the shared-seed way


def test_warm_start_enqueues_the_previous_ds_best_fitting_parameters(tmp_path: Path) -> None:
    spec = make_spec(n_trials=6, n_workers=1, warm_start_top_k=2)
    storage = open_storage(journal_url(journal_path(tmp_path)))
    base = {"subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 1.0, "reg_lambda": 1.0}
    complete_trials(
        storage,
        spec,
        "2026-11-19",
        [
            {**base, "max_depth": 5, "learning_rate": 0.05, "value": 0.30},
            {**base, "max_depth": 12, "learning_rate": 0.05, "value": 0.10},  # out of space now
            {**base, "max_depth": 7, "learning_rate": 0.10, "value": 0.20},
            {**base, "max_depth": 4, "learning_rate": 0.20, "value": 0.40},
        ],
    )
    complete_trials(
        storage, spec, "2026-11-23", [{**base, "max_depth": 9, "learning_rate": 0.1, "value": 0.01}]
    )

    off = parse_spec(
        {**tuning_spec_data(n_trials=6, n_workers=1, warm_start=False), "name": spec.name}
    )
    assert create_study(storage, off, "2026-11-20")["warm_started"] == 0

    summary = create_study(storage, spec, "2026-11-20", fresh=True)

    assert summary["warm_started"] == 2
    assert summary["parent_study"] == study_name(spec.name, "2026-11-19")
    study = optuna.load_study(study_name=study_name(spec.name, "2026-11-20"), storage=storage)
    assert study.user_attrs[PARENT_ATTR] == study_name(spec.name, "2026-11-19")
    assert study.user_attrs[BUDGET_ATTR] == 6
    trials = study.get_trials()
    assert len(trials) == 6
    assert [t.system_attrs["fixed_params"]["max_depth"] for t in trials[:2]] == [7, 5]
    assert trials[0].user_attrs["warm_start_from"] == f"{study_name(spec.name, '2026-11-19')}#2"
    assert all(t.system_attrs["fixed_params"] == {} for t in trials[2:])


def test_rerun_adds_no_trial_and_fresh_study_archives_the_old_one(tmp_path: Path) -> None:
    spec = make_spec(n_trials=3, n_workers=1, pruner={"type": "none"})
    layout = published(tmp_path, spec, DS, rows=400)
    storage = open_storage(journal_url(journal_path(tmp_path)))
    assert create_study(storage, spec, DS)["enqueued"] == 3
    assert run(tmp_path, spec, layout, "stepped")["complete"] == 3

    assert create_study(storage, spec, DS)["enqueued"] == 0
    assert run(tmp_path, spec, layout, "stepped")["complete"] == 0
    assert len(trials_of(tmp_path, spec)) == 3

    bigger = parse_spec({**tuning_spec_data(n_trials=5, n_workers=1), "name": spec.name})
    assert create_study(storage, bigger, DS)["enqueued"] == 2

    fresh = create_study(storage, spec, DS, fresh=True)
    assert fresh["enqueued"] == 3
    archived = optuna.load_study(study_name=fresh["archived_as"], storage=storage).get_trials()
    assert [t.state for t in archived].count(TrialState.COMPLETE) == 3
    assert len(archived) == 5
    assert [t.state for t in trials_of(tmp_path, spec)] == [TrialState.WAITING] * 3


def test_a_snapshot_that_does_not_match_its_manifest_is_refused(tmp_path: Path) -> None:
    spec = make_spec(n_trials=2, n_workers=1)
    layout = published(tmp_path, spec, DS, rows=400)
    create_study(open_storage(journal_url(journal_path(tmp_path))), spec, DS)
    part = next((layout.dataset_dir / "train").glob("*.parquet"))
    part.write_bytes(part.read_bytes() + b"tampered")
    with pytest.raises(SnapshotCorrupt, match="does not match its manifest: content hash"):
        run(tmp_path, spec, layout, "stepped")
    assert [t.state for t in trials_of(tmp_path, spec)] == [TrialState.WAITING] * 2


def sqlite_heartbeat(spec: PipelineSpec) -> dict[str, Any]:
    """The heartbeat arguments of a worker's RDB storage, for a SQLite stand-in of MySQL."""
    heartbeat = worker_heartbeat(spec)
    return {
        "heartbeat_interval": heartbeat.interval_seconds,
        "grace_period": heartbeat.grace_seconds,
    }


class ClaimFailsOnce(WorkerRDBStorage):
    """Drops the first claim write, as a connection killed mid-commit does."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.dropped: list[int] = []

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Any = None) -> bool:
        if state == TrialState.RUNNING and not self.dropped:
            self.dropped.append(trial_id)
            raise sqlalchemy.exc.OperationalError("UPDATE trials", {}, ConnectionError("lost"))
        return super().set_trial_state_values(trial_id, state, values)


def test_a_failed_claim_write_claims_the_same_trial_again(tmp_path: Path) -> None:
    spec = make_spec(n_trials=4, n_workers=1, pruner={"type": "none"})
    layout = published(tmp_path, spec, DS, rows=400)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    create_study(optuna.storages.RDBStorage(url), spec, DS)
    storage = ClaimFailsOnce(url, **sqlite_heartbeat(spec))

    summary = run(tmp_path, spec, layout, "stepped", storage=storage)

    trials = optuna.load_study(study_name=study_name(spec.name, DS), storage=url).trials
    assert storage.dropped == [trials[0]._trial_id]
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert summary["complete"] == 4 and summary["storage_retries"] == 1


class AnswerLostOnce(WorkerRDBStorage):
    """One write lands but its answer is lost, as when the connection drops after COMMIT:
    the first stale trial failed (``fail``), or the first retry enqueued (``retry``)."""

    def __init__(self, url: str, lost: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.lost, self.dropped = lost, 0

    def drop(self) -> None:
        self.dropped += 1
        raise sqlalchemy.exc.OperationalError("COMMIT", {}, ConnectionError("lost"))

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Any = None) -> bool:
        done = super().set_trial_state_values(trial_id, state, values)
        if self.lost == "fail" and state == TrialState.FAIL and not self.dropped:
            self.drop()
        return done

    def _create_new_trial(self, study_id: int, template_trial: Any = None) -> Any:
        created = super()._create_new_trial(study_id, template_trial)
        is_retry = template_trial is not None and "retry_of" in template_trial.user_attrs
        if self.lost == "retry" and is_retry and not self.dropped:
            self.drop()
        return created


@pytest.mark.parametrize("lost", ["fail", "retry"])
def test_a_stale_trial_gets_one_retry_when_a_write_answer_is_lost(
    tmp_path: Path, lost: str
) -> None:
    spec = make_spec(n_trials=3, n_workers=1, heartbeat_seconds=1, pruner={"type": "none"})
    layout = published(tmp_path, spec, DS, rows=400)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    storage = AnswerLostOnce(url, lost, **sqlite_heartbeat(spec))
    create_study(storage, spec, DS)
    study = optuna.load_study(study_name=study_name(spec.name, DS), storage=storage)
    abandoned = claim_trial(storage, study._study_id)  # its worker dies: no more heartbeats
    assert abandoned is not None

    summary = run(tmp_path, spec, layout, "stepped", storage=storage)

    trials = optuna.load_study(study_name=study_name(spec.name, DS), storage=url).trials
    assert storage.dropped == 1 and summary["storage_retries"] >= 1
    assert trials[0].state == TrialState.FAIL
    retries = [t for t in trials if t.user_attrs.get("retry_of") == 0]
    assert [t.user_attrs["retry_reason"] for t in retries] == [STALE_REASON]
    counted = counted_trials(trials)
    assert len(counted) == 3 and {t.state for t in counted} == {TrialState.COMPLETE}


def test_a_trial_reads_the_whole_study_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the random start, sampling and the worker share one read of the study per trial
    (reads by state, such as the claim's, are light and not counted)."""
    spec = make_spec(n_trials=12, n_workers=1, pruner={"type": "none"})
    layout = published(tmp_path, spec, DS, rows=400)
    create_study(open_storage(journal_url(journal_path(tmp_path))), spec, DS)
    storage = worker_storage(tmp_path, spec)
    whole_reads = 0
    read = storage.get_all_trials

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal whole_reads
        whole_reads += kwargs.get("states") is None and len(args) < 3
        return read(*args, **kwargs)

    monkeypatch.setattr(storage, "get_all_trials", counted)
    summary = run(tmp_path, spec, layout, "stepped", storage=storage)
    assert summary["complete"] == 12
    assert whole_reads == 12
    trials = trials_of(tmp_path, spec)
    assert len({t.params["learning_rate"] for t in trials}) == 12  # TPE did sample each one


def test_claims_go_oldest_first_and_a_waiting_trial_below_the_look_is_still_found(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    storage = WorkerRDBStorage(url)
    study = optuna.create_study(study_name="claims", storage=storage)
    for _ in range(5):
        study.enqueue_trial({}, skip_if_exists=False)
    ids = [
        t._trial_id for t in storage.get_all_trials(study._study_id, states=(TrialState.WAITING,))
    ]
    claimer = Claimer(storage, study._study_id)
    assert [claimer.claim(), claimer.claim()] == ids[:2]
    assert claimer.above_id == ids[1] - 1  # the next look starts past the claimed trials
    claimer.above_id = ids[-1]  # as if a trial below it were added late (a slow insert)
    assert claimer.claim() == ids[2]  # found by the look at the whole study
    assert [claimer.claim(), claimer.claim(), claimer.claim()] == [ids[3], ids[4], None]
    assert claimer.lost == 0
    other = Claimer(storage, study._study_id)
    study.enqueue_trial({}, skip_if_exists=False)
    mine = claimer.claim()
    assert other.claim() is None and mine is not None  # one trial, one claim


@pytest.mark.parametrize("kind", ["rdb", "journal"])
def test_claims_across_studies_take_loaded_data_first_then_most_left_and_stop_at_budgets(
    tmp_path: Path, kind: str
) -> None:
    storage: optuna.storages.BaseStorage
    if kind == "rdb":
        storage = WorkerRDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")
    else:
        storage = open_storage(journal_url(journal_path(tmp_path)))
    budgets = {"a": 2, "b": 4, "c": 1}
    ids = {}
    for name, budget in budgets.items():
        study = optuna.create_study(study_name=name, storage=storage)
        for _ in range(budget):
            study.enqueue_trial({}, skip_if_exists=False)
        ids[name] = study._study_id
    name_of = {study_id: name for name, study_id in ids.items()}
    assert trial_counts(storage, list(ids.values())) == {ids[n]: b for n, b in budgets.items()}
    claimer = StudiesClaimer(storage, list(ids.values()))

    claimed = []
    while (got := claimer.claim(loaded=[ids["c"]])) is not None:
        claimed.append(name_of[got[0]])
        storage.set_trial_state_values(got[1], TrialState.COMPLETE, [0.0])
    # c first (its data is loaded), then the most left: b until it ties a, the lower id.
    assert claimed == ["c", "b", "b", "a", "b", "a", "b"]
    assert claimer.claim() is None and claimer.lost == 0
    for name, study_id in ids.items():
        states = [t.state for t in storage.get_all_trials(study_id)]
        assert states == [TrialState.COMPLETE] * budgets[name], name


def test_with_caps_the_claims_spread_over_the_studies_and_wait_when_all_are_full(
    tmp_path: Path,
) -> None:
    from tasks.tuning.study import parallel_cap

    assert [parallel_cap(b) for b in (1, 4, 5, 10, 40)] == [1, 1, 2, 3, 10]
    storage = open_storage(journal_url(journal_path(tmp_path)))
    ids = {}
    for name, budget in {"big": 8, "small": 4}.items():
        study = optuna.create_study(study_name=name, storage=storage)
        for _ in range(budget):
            study.enqueue_trial({}, skip_if_exists=False)
        ids[name] = study._study_id
    name_of = {study_id: name for name, study_id in ids.items()}
    claimer = StudiesClaimer(storage, list(ids.values()), {ids["big"]: 2, ids["small"]: 1})
    running = [claimer.claim() for _ in range(3)]
    assert [name_of[r[0]] for r in running if r] == ["big", "big", "small"]
    assert claimer.claim() is None  # every study at its cap: wait, trials are still waiting
    assert trial_counts(storage, [ids["big"]])[ids["big"]] == 6
    first = running[0]
    assert first is not None
    storage.set_trial_state_values(first[1], TrialState.COMPLETE, [0.0])
    again = claimer.claim()
    assert again is not None and name_of[again[0]] == "big"  # a place came free
