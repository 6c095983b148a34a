"""The tuning engine on the real MySQL: the claim race, dropped connections. (kill -9 of a
worker mid-trial, under Spark: tests/reliability/test_tuning_faults.py.)"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from tasks.core import Layout, parse_spec
from tasks.tuning import counted_trials, create_study
from tasks.tuning.storage import open_storage
from tasks.tuning.study import StudiesClaimer, claim_trial
from tests.snapshots import published
from tests.tuning_support import tuning_spec_data, worker_process

pytestmark = pytest.mark.mysql
DS = "2026-11-21"
SPAWN = multiprocessing.get_context("spawn")


def study_without_pruning(
    url: str, root: Path, n_trials: int, n_workers: int
) -> tuple[dict[str, Any], Layout, str]:
    """(spec data, published snapshot, study name) of a fresh study with 1 s heartbeats."""
    data = tuning_spec_data(n_trials=n_trials, n_workers=n_workers, heartbeat_seconds=1)
    data["tuning"]["pruner"] = {"type": "none"}
    spec = parse_spec(data)
    layout = published(root, spec, DS, rows=400)
    return data, layout, create_study(open_storage(url), spec, DS)["study_name"]


def start_racers(target: Any, url: str, plan: Any, racers: int) -> tuple[list[Any], Any, Any]:
    """``racers`` processes running ``target`` on ``plan`` behind one barrier, the queue
    they put their claims on, and the barrier: the caller keeps it, as a spawned child
    that starts after the parent dropped it finds its semaphores gone."""
    barrier, results = SPAWN.Barrier(racers), SPAWN.Queue()
    processes = [
        SPAWN.Process(target=target, args=(url, plan, barrier, results, i)) for i in range(racers)
    ]
    for process in processes:
        process.start()
    return processes, results, barrier


def race(url: str, names: list[str], barrier: Any, results: Any, index: int) -> None:
    """Claim as fast as possible in each study, finishing each claim at once."""
    storage = open_storage(url)
    for name in names:
        study_id = storage.get_study_id_from_name(name)
        barrier.wait(60)
        claimed = []
        while (trial_id := claim_trial(storage, study_id)) is not None:
            claimed.append(trial_id)
            storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [float(index)])
        results.put((name, index, claimed))


def test_four_concurrent_workers_never_overshoot_the_budget(mysql_url: str) -> None:
    rounds, budget, racers = 25, 8, 4
    storage = open_storage(mysql_url)
    names = []
    for _ in range(rounds):
        spec = parse_spec(tuning_spec_data(n_trials=budget, n_workers=racers, warm_start=False))
        names.append(create_study(storage, spec, DS)["study_name"])
    processes, results, _barrier = start_racers(race, mysql_url, names, racers)
    claims: dict[str, list[int]] = {name: [] for name in names}
    claimers: dict[str, int] = dict.fromkeys(names, 0)
    for _ in range(rounds * racers):
        name, _index, claimed = results.get(timeout=300)
        claims[name] += claimed
        claimers[name] += bool(claimed)
    for process in processes:
        process.join()  # it has sent its results: it ends, or the suite's timeout names it
        assert process.exitcode == 0, f"{process.name} exited {process.exitcode}"

    for name in names:
        assert len(claims[name]) == budget, name
        assert len(set(claims[name])) == budget, name  # no trial claimed twice
        trials = optuna.load_study(study_name=name, storage=storage).get_trials()
        assert len(trials) == budget
        assert {t.state for t in trials} == {TrialState.COMPLETE}
    assert sum(claimers.values()) > rounds  # the workers really raced for the trials


def kill_connections(url: str, stop: threading.Event, kills: list[int]) -> None:
    """Kill every other connection of the test user, over and over."""
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        user = conn.execute(sqlalchemy.text("SELECT CURRENT_USER()")).scalar_one().split("@")[0]
        while not stop.wait(0.3):
            ids = conn.execute(
                sqlalchemy.text(
                    "SELECT ID FROM information_schema.PROCESSLIST "
                    "WHERE USER = :user AND ID <> CONNECTION_ID()"
                ),
                {"user": user},
            ).scalars()
            for connection_id in ids:
                try:
                    conn.execute(sqlalchemy.text(f"KILL CONNECTION {int(connection_id)}"))
                    kills.append(int(connection_id))
                except sqlalchemy.exc.DBAPIError:
                    pass  # it ended on its own meanwhile
    engine.dispose()


def test_dropped_connections_during_bookkeeping_are_survived(
    mysql_url: str, tmp_path: Path
) -> None:
    data, layout, name = study_without_pruning(mysql_url, tmp_path, n_trials=12, n_workers=1)
    stop, kills = threading.Event(), []
    killer = threading.Thread(target=kill_connections, args=(mysql_url, stop, kills))
    killer.start()
    try:
        summary = worker_process(mysql_url, name, data, str(layout.dataset_dir), 0, "slow")
    finally:
        stop.set()
        killer.join()

    assert len(kills) >= 5
    trials = optuna.load_study(study_name=name, storage=mysql_url).get_trials()
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    counted = counted_trials(trials)
    assert len(counted) == 12
    assert {t.state for t in counted} == {TrialState.COMPLETE}
    assert summary["complete"] == 12


def race_across(url: str, rounds: list[list[str]], barrier: Any, results: Any, index: int) -> None:
    """Claim across each round's studies as fast as possible, finishing each claim at once."""
    storage = open_storage(url)
    for names in rounds:
        ids = {storage.get_study_id_from_name(name): name for name in names}
        claimer = StudiesClaimer(storage, list(ids))
        loaded: set[int] = set()
        barrier.wait(60)
        claimed = []
        while (got := claimer.claim(loaded)) is not None:
            loaded.add(got[0])
            claimed.append((ids[got[0]], got[1]))
            storage.set_trial_state_values(got[1], TrialState.COMPLETE, [float(index)])
        results.put(claimed)


def test_four_workers_claiming_across_studies_never_overshoot_any_budget(mysql_url: str) -> None:
    """One study per segment, one set of workers pulling from all of them: every study
    gets exactly its budget, no trial twice, round after round."""
    rounds, budgets, racers = 10, [1, 2, 3, 5, 8], 4
    storage = open_storage(mysql_url)
    plan: list[list[str]] = []
    budget_of: dict[str, int] = {}
    for _ in range(rounds):
        names = []
        for budget in budgets:
            spec = parse_spec(tuning_spec_data(n_trials=budget, n_workers=1, warm_start=False))
            name = create_study(storage, spec, DS)["study_name"]
            names.append(name)
            budget_of[name] = budget
        plan.append(names)
    processes, results, _barrier = start_racers(race_across, mysql_url, plan, racers)
    claims: dict[str, list[int]] = {name: [] for name in budget_of}
    for _ in range(rounds * racers):
        for name, trial_id in results.get(timeout=300):
            claims[name].append(trial_id)
    for process in processes:
        process.join()  # it has sent its results: it ends, or the suite's timeout names it
        assert process.exitcode == 0, f"{process.name} exited {process.exitcode}"

    for name, budget in budget_of.items():
        assert len(claims[name]) == budget, name
        assert len(set(claims[name])) == budget, name  # no trial claimed twice
        trials = optuna.load_study(study_name=name, storage=storage).get_trials()
        assert [t.state for t in trials] == [TrialState.COMPLETE] * budget, name
