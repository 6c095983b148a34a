"""A long trial killed in training resumes from its checkpoint, with its parameters and seed."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from tasks.core import CHECKPOINT_STATE, journal_path, parse_spec
from tasks.tuning import create_study
from tasks.tuning.storage import journal_url, open_storage
from tests import tuning_support
from tests.snapshots import published
from tests.tuning_support import tuning_spec_data

DS = "2026-11-21"
ROUNDS = 2000
EVERY = 100


def saved_round(folder: Path) -> int:
    try:
        return int(json.loads((folder / CHECKPOINT_STATE).read_text())["rounds"])
    except (OSError, ValueError, KeyError):
        return 0


def test_a_killed_long_trial_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    data = tuning_spec_data(
        n_trials=1,
        n_workers=1,
        num_boost_round=ROUNDS,
        early_stopping_rounds=None,
        checkpoint_every_rounds=EVERY,
        heartbeat_seconds=1,
        warm_start=False,
        pruner={"type": "none"},
    )
    spec = parse_spec(data)
    layout = published(tmp_path, spec, DS, rows=2000)
    url = journal_url(journal_path(tmp_path))
    name = create_study(open_storage(url), spec, DS)["study_name"]
    dataset, checkpoints = str(layout.dataset_dir), str(layout.checkpoints_dir)

    # The first worker trains slowly (5 ms a round) and is killed at 75% of its rounds.
    victim = multiprocessing.get_context("spawn").Process(
        target=tuning_support.worker_process,
        args=(url, name, data, dataset, 0, "slow_xgboost"),
        kwargs={"checkpoint_dir": checkpoints},
    )
    victim.start()
    folder = layout.checkpoints_dir / "trial-0"
    deadline = time.monotonic() + 240
    while saved_round(folder) < ROUNDS * 3 // 4:
        assert victim.is_alive() and time.monotonic() < deadline, "no checkpoint at 75%"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.join()
    killed_at = saved_round(folder)
    assert ROUNDS * 3 // 4 <= killed_at < ROUNDS and killed_at % EVERY == 0

    # Another worker finds the trial stale, and its retry goes on from the checkpoint.
    summary = tuning_support.worker_process(
        url, name, data, dataset, 1, "xgboost", checkpoint_dir=checkpoints
    )

    trials = optuna.load_study(study_name=name, storage=open_storage(url)).get_trials()
    lost, retry = trials
    assert lost.state == TrialState.FAIL and retry.state == TrialState.COMPLETE
    assert retry.user_attrs["retry_of"] == lost.number
    assert retry.params == lost.params
    record, lost_record = retry.user_attrs["retune"], lost.user_attrs["retune"]
    assert record["worker"] == "w1.p0.a1"
    assert record["resumed_from_round"] == killed_at
    assert record["seed"] == lost_record["seed"]  # the killed attempt's seed, not its own
    assert record["best_rounds"] == ROUNDS  # no early stopping: every round was trained
    # Only the rounds left were trained: the checkpoints the retry saved start after it.
    assert record["checkpoints_saved"] == (ROUNDS - killed_at) // EVERY
    assert summary["complete"] == 1
    assert not layout.checkpoints_dir.exists()  # removed once the study is done
    assert not list(layout.root.glob("models/**/*.ubj"))  # never published
