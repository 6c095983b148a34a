"""Two worker processes share one study on the real MySQL and finish exactly the budget."""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path

import optuna
import pytest

from tasks.core import parse_spec
from tasks.tuning import create_study
from tasks.tuning.storage import open_storage
from tests import tuning_support
from tests.conftest import demo_spec_data
from tests.snapshots import published
from tests.tuning_support import complete_trials, tuning_spec_data

pytestmark = pytest.mark.mysql
DS = "2026-11-21"


def test_two_processes_finish_exactly_the_budget(mysql_url: str, tmp_path: Path) -> None:
    spec_data = demo_spec_data(n_trials=10)
    spec_data["name"] = f"t_{uuid.uuid4().hex[:12]}"
    spec = parse_spec(spec_data)
    layout = published(tmp_path, spec, DS, rows=4000)
    storage = open_storage(mysql_url)
    name = create_study(storage, spec, DS)["study_name"]
    assert create_study(storage, spec, DS)["enqueued"] == 0  # idempotent

    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(
            target=tuning_support.worker_process,
            args=(mysql_url, name, spec_data, str(layout.dataset_dir), i, "xgboost"),
        )
        for i in range(2)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=600)
        assert process.exitcode == 0

    trials = optuna.load_study(study_name=name, storage=mysql_url).get_trials()
    assert len(trials) == 10
    states = {t.state.name for t in trials}
    assert "COMPLETE" in states and states <= {"COMPLETE", "PRUNED"}  # the median pruner runs
    by_worker = {t.user_attrs["retune"]["worker"] for t in trials}
    assert by_worker == {"w0.p0.a1", "w1.p0.a1"}
    assert len({t.user_attrs["retune"]["seed"] for t in trials}) == 2
    assert all(t.user_attrs["retune"]["device"] == "cpu" for t in trials)
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 10


def test_warm_started_trials_run_first_on_mysql(mysql_url: str, tmp_path: Path) -> None:
    data = tuning_spec_data(n_trials=6, n_workers=1, warm_start_top_k=2, heartbeat_seconds=1)
    data["tuning"]["pruner"] = {"type": "none"}
    spec = parse_spec(data)
    layout = published(tmp_path, spec, DS, rows=400)
    storage = open_storage(mysql_url)
    base = {"subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 1.0, "reg_lambda": 1.0}
    best = [
        {**base, "max_depth": 7, "learning_rate": 0.1, "value": 0.2},
        {**base, "max_depth": 5, "learning_rate": 0.05, "value": 0.3},
    ]
    complete_trials(storage, spec, "2026-11-20", best)
    name = create_study(storage, spec, DS)["study_name"]

    dataset = str(layout.dataset_dir)
    summary = tuning_support.worker_process(mysql_url, name, data, dataset, 0, "stepped")

    trials = optuna.load_study(study_name=name, storage=mysql_url).get_trials()
    assert summary["complete"] == 6
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 6
    assert [t.params for t in trials[:2]] == [
        {k: v for k, v in row.items() if k != "value"} for row in best
    ]
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 6
