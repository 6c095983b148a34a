"""Faults during a real tune (spark-submit of the tune job, real MySQL): a worker process
killed with -9 mid-trial, a Spark standalone worker lost, the MySQL server stopped for 30 s.

Each run must end with exactly the budget of finished trials, none left RUNNING.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState

from tasks.core import parse_spec
from tasks.tuning import counted_trials, create_study
from tasks.tuning.storage import open_storage
from tasks.tuning.storage.stale_retry import STALE_REASON
from tests.fault_support import (
    PrivateMariaDB,
    alive,
    command_line,
    kill_tree,
    parent_pids,
    record,
    wait_for,
)
from tests.snapshots import published
from tests.spark_support import finish, standalone_cluster, start_tune, tune_command, write_spec
from tests.tuning_support import tuning_spec_data

pytestmark = [pytest.mark.mysql, pytest.mark.spark, pytest.mark.faults]
DS = "2026-11-21"
BUDGET = 8


def slow_study(url: str, directory: Path, **tuning: Any) -> tuple[Path, str]:
    """(spec file, study name) of a study whose XGBoost trials take a few seconds each."""
    settings = {
        "n_trials": BUDGET,
        "n_workers": 1,
        "spark_tasks_per_worker": 2,
        "num_boost_round": 150,
        "early_stopping_rounds": None,
        "heartbeat_seconds": 2,
        **tuning,
    }
    data = tuning_spec_data(**settings)
    data["tuning"]["pruner"] = {"type": "none"}
    spec = parse_spec(data)
    published(directory, spec, DS, rows=4000)
    return write_spec(directory, data), create_study(open_storage(url), spec, DS)["study_name"]


def trials(url: str, name: str) -> list[FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials()


def a_trial_in_training(url: str, name: str, done: int = 1) -> FrozenTrial | None:
    """A RUNNING trial with its parameters drawn (so training), once ``done`` trials have
    completed."""
    now = trials(url, name)
    if sum(t.state == TrialState.COMPLETE for t in now) < done:
        return None
    for trial in now:
        if trial.state == TrialState.RUNNING and trial.params and "retune" in trial.user_attrs:
            return trial
    return None


def trial_pid(trial: FrozenTrial) -> int:
    """The Python worker process running ``trial`` (its record says host:pid)."""
    return int(trial.user_attrs["retune"]["host"].rsplit(":", 1)[1])


def outcome(final: list[FrozenTrial]) -> dict[str, int]:
    """Trial counts for the record."""
    return {
        "finished": len(counted_trials(final)),
        "budget": BUDGET,
        "running": sum(t.state == TrialState.RUNNING for t in final),
        "stale_retries": sum(t.user_attrs.get("retry_reason") == STALE_REASON for t in final),
    }


def assert_budget_exact(url: str, name: str, victim: FrozenTrial) -> list[FrozenTrial]:
    """Exactly the budget counted, all complete, nothing RUNNING or WAITING; the victim's
    parameters were tried again by its stale retry."""
    final = trials(url, name)
    assert not [t for t in final if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    counted = counted_trials(final)
    assert len(counted) == BUDGET
    assert {t.state for t in counted} == {TrialState.COMPLETE}
    assert final[victim.number].state == TrialState.FAIL
    (retry,) = [t for t in final if t.user_attrs.get("retry_of") == victim.number]
    assert retry.state == TrialState.COMPLETE
    assert retry.user_attrs["retry_reason"] == STALE_REASON
    # A trial killed after it drew its parameters is tried again with them (one killed
    # between its claim and its first suggestion has none to repeat).
    if victim.params:
        assert retry.params == victim.params
    return final


def use_cluster(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    host, port = url.removeprefix("spark://").split(":")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPARK_DEFAULT",
        json.dumps({"conn_type": "spark", "host": f"spark://{host}", "port": int(port)}),
    )


def interrupted_trial(url: str, name: str, killed: set[int]) -> FrozenTrial:
    """The trial the killed processes left RUNNING: read once they are gone, so it is the
    one they were running, even if the trial chosen for the fault finished just before."""
    wait_for(lambda: not alive(killed), 30, "the killed processes to be gone")
    running = [
        t
        for t in trials(url, name)
        if t.state == TrialState.RUNNING and "retune" in t.user_attrs and trial_pid(t) in killed
    ]
    assert running, f"no trial was running in the killed processes {sorted(killed)}"
    return running[0]


def tune_with_a_fault(
    url: str, directory: Path, monkeypatch: pytest.MonkeyPatch, fault: Any
) -> tuple[str, FrozenTrial, dict[str, Any]]:
    """Tune on a standalone cluster of 2 one-core workers; ``fault`` kills the processes of
    the first trial in training and returns their pids. (study name, the trial the fault
    interrupted, the application's result)."""
    spec_path, name = slow_study(url, directory)
    with standalone_cluster(directory / "spark", workers=2, cores=1) as cluster:
        use_cluster(monkeypatch, cluster.url)
        log = directory / "tune.log"
        app = start_tune(tune_command(spec_path, DS, directory, 0, 1), url, log)
        chosen = wait_for(lambda: a_trial_in_training(url, name), 240, "a trial in training")
        victim = interrupted_trial(url, name, fault(chosen))
        return name, victim, finish(app, log, 600)


@pytest.mark.cluster
def test_kill_9_of_a_worker_process_mid_trial(
    mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def kill_the_worker_process(chosen: FrozenTrial) -> set[int]:
        os.kill(trial_pid(chosen), signal.SIGKILL)
        return {trial_pid(chosen)}

    name, victim, result = tune_with_a_fault(
        mysql_url, tmp_path, monkeypatch, kill_the_worker_process
    )

    final = assert_budget_exact(mysql_url, name, victim)
    # Spark ran the killed task again, as a new attempt of the same partition.
    labels = {t.user_attrs["retune"]["worker"] for t in final}
    victim_label = victim.user_attrs["retune"]["worker"]
    partition = victim_label.split(".")[1]
    again = f"w0.{partition}.a1001"
    assert again in {w["worker"] for w in result["workers"]} | labels
    record("kill -9 of a worker process", victim=victim_label, rerun_as=again, **outcome(final))


def worker_daemon_of(pid: int) -> int:
    """The Spark standalone Worker whose executor runs process ``pid``."""
    parents = parent_pids()
    current = pid
    while current > 1:
        if "org.apache.spark.deploy.worker.Worker" in command_line(current):
            return current
        current = parents[current]
    raise AssertionError(f"process {pid} does not run under a Spark worker")


@pytest.mark.cluster
def test_loss_of_a_spark_worker_mid_tune(
    mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lost: set[int] = set()

    def lose_the_spark_worker(chosen: FrozenTrial) -> set[int]:
        # The worker, its executor and the executor's Python processes, as when a host dies.
        lost.update(kill_tree(worker_daemon_of(trial_pid(chosen))))
        return lost

    name, victim, result = tune_with_a_fault(
        mysql_url, tmp_path, monkeypatch, lose_the_spark_worker
    )
    assert len(lost) >= 3
    assert not alive(lost)

    final = assert_budget_exact(mysql_url, name, victim)
    assert sum(w["complete"] for w in result["workers"]) >= 1
    record(
        "loss of a Spark worker",
        processes_killed=len(lost),
        workers=[w["worker"] for w in result["workers"]],
        **outcome(final),
    )


def test_mysql_stopped_for_30_seconds_mid_tune(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SPARK_DEFAULT", raising=False)  # local[*]
    with PrivateMariaDB(tmp_path / "mysql") as server:
        spec_path, name = slow_study(server.url, tmp_path, heartbeat_seconds=10)
        log = tmp_path / "tune.log"
        app = start_tune(tune_command(spec_path, DS, tmp_path, 0, 1), server.url, log)
        wait_for(lambda: a_trial_in_training(server.url, name), 240, "a trial in training")
        server.stop()
        stopped = time.monotonic()
        time.sleep(30)
        assert app.poll() is None, "the tune application gave up during the outage"
        server.start()
        result = finish(app, log, 600)
        outage = time.monotonic() - stopped

        final = trials(server.url, name)
        assert not [t for t in final if t.state in (TrialState.RUNNING, TrialState.WAITING)]
        counted = counted_trials(final)
        assert len(counted) == BUDGET
        assert {t.state for t in counted} == {TrialState.COMPLETE}
    assert outage >= 30
    retries = sum(w["storage_retries"] for w in result["workers"])
    assert retries >= 1
    record(
        "MySQL stopped for 30 s",
        outage_seconds=round(outage, 1),
        storage_retries=retries,
        **outcome(final),
    )
