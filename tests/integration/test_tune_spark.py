"""The tune stage's real spark-submit application on MySQL: a killed attempt, a retry, a rerun,
and two applications x two tasks on a Spark standalone cluster."""

from __future__ import annotations

import json
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tasks.optuna_storage import open_storage
from tasks.spec import parse_spec
from tasks.study import counted_trials, create_study
from tasks.trial_retry import STALE_REASON
from tests.snapshots import published
from tests.spark_support import (
    finish,
    kill_group,
    standalone_cluster,
    start_tune,
    tune_command,
    write_spec,
)
from tests.tuning_support import tuning_spec_data

pytestmark = [pytest.mark.mysql, pytest.mark.spark]
DS = "2026-11-21"


def test_a_killed_attempt_is_resumed_by_the_retry_and_a_rerun_adds_nothing(
    mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SPARK_DEFAULT", raising=False)  # local[*]
    data = tuning_spec_data(
        n_trials=8,
        n_workers=1,
        spark_tasks_per_worker=2,
        num_boost_round=250,
        early_stopping_rounds=None,
        heartbeat_seconds=1,
    )
    data["tuning"]["pruner"] = {"type": "none"}
    spec = parse_spec(data)
    spec_path = write_spec(tmp_path, data)
    published(tmp_path, spec, DS, rows=10_000)
    name = create_study(open_storage(mysql_url), spec, DS)["study_name"]

    def states() -> list[TrialState]:
        study = optuna.load_study(study_name=name, storage=mysql_url)
        return [t.state for t in study.get_trials()]

    first = start_tune(tune_command(spec_path, DS, tmp_path, 0, 1), mysql_url, tmp_path / "a1.log")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        now = states()
        if now.count(TrialState.COMPLETE) >= 2 and TrialState.RUNNING in now:
            break
        time.sleep(0.3)
    else:
        raise AssertionError((tmp_path / "a1.err").read_text()[-3000:])
    kill_group(first)  # as when Airflow kills the task or its host dies
    killed = [
        t
        for t in optuna.load_study(study_name=name, storage=mysql_url).get_trials()
        if t.state == TrialState.RUNNING
    ]
    assert killed

    retry = finish(
        start_tune(tune_command(spec_path, DS, tmp_path, 0, 2), mysql_url, tmp_path / "a2.log"),
        tmp_path / "a2.log",
        600,
    )

    trials = optuna.load_study(study_name=name, storage=mysql_url).get_trials()
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    counted = counted_trials(trials)
    assert len(counted) == 8
    assert {t.state for t in counted} == {TrialState.COMPLETE}
    for lost in killed:
        assert trials[lost.number].state == TrialState.FAIL
        (again,) = [t for t in trials if t.user_attrs.get("retry_of") == lost.number]
        assert again.user_attrs["retry_reason"] == STALE_REASON
        if lost.params:
            assert again.params == lost.params
    workers = {t.user_attrs["retune"]["worker"] for t in counted}
    assert workers <= {"w0.p0.a1000", "w0.p1.a1000", "w0.p0.a2000", "w0.p1.a2000"}
    assert {"w0.p0.a2000", "w0.p1.a2000"} <= workers
    assert sum(w["complete"] for w in retry["workers"]) == 8 - len(
        [t for t in counted if t.user_attrs["retune"]["worker"].endswith("a1000")]
    )

    assert create_study(open_storage(mysql_url), spec, DS)["enqueued"] == 0
    rerun = finish(
        start_tune(tune_command(spec_path, DS, tmp_path, 0, 3), mysql_url, tmp_path / "a3.log"),
        tmp_path / "a3.log",
        600,
    )
    assert [w["complete"] for w in rerun["workers"]] == [0, 0]
    assert len(optuna.load_study(study_name=name, storage=mysql_url).get_trials()) == len(trials)


@pytest.mark.cluster
def test_two_applications_of_two_tasks_on_a_standalone_cluster(
    mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tuning_spec_data(
        n_trials=12,
        n_workers=2,
        spark_tasks_per_worker=2,
        num_boost_round=150,
        early_stopping_rounds=None,
    )
    spec = parse_spec(data)
    spec_path = write_spec(tmp_path, data)
    published(tmp_path, spec, DS, rows=4000)
    name = create_study(open_storage(mysql_url), spec, DS)["study_name"]

    with standalone_cluster(tmp_path / "spark", workers=2, cores=2) as cluster:
        host, port = cluster.url.removeprefix("spark://").split(":")
        monkeypatch.setenv(
            "AIRFLOW_CONN_SPARK_DEFAULT",
            json.dumps({"conn_type": "spark", "host": f"spark://{host}", "port": int(port)}),
        )
        apps = [
            start_tune(
                tune_command(spec_path, DS, tmp_path, i, 1), mysql_url, tmp_path / f"app{i}.log"
            )
            for i in range(2)
        ]
        results = [finish(app, tmp_path / f"app{i}.log", 600) for i, app in enumerate(apps)]
        executors = [sorted(d.glob("app-*/*")) for d in cluster.worker_dirs]

    trials = optuna.load_study(study_name=name, storage=mysql_url).get_trials()
    assert len(trials) == 12
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    labels = {t.user_attrs["retune"]["worker"] for t in trials}
    assert labels == {"w0.p0.a1000", "w0.p1.a1000", "w1.p0.a1000", "w1.p1.a1000"}
    assert len({t.user_attrs["retune"]["seed"] for t in trials}) == len(labels)
    assert sum(len(r["workers"]) for r in results) == 4
    assert all(executors), "each Spark worker ran executors"
    assert len({p.parent.name for ex in executors for p in ex}) == 2  # both applications
