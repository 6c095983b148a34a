"""Sampler and pruner choice, the storage guard, and the GPU data path (by what they build)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
import sqlalchemy.exc
from optuna.trial import TrialState

from tasks.core import (
    PrunerSpec,
    RetuneError,
    SpecError,
    StorageUnreachable,
    TuningSpec,
    parse_spec,
)
from tasks.model import base_params, build_matrices, load_snapshot, training_device
from tasks.tuning import build_sampler
from tasks.tuning.samplers import WindowedSampler, build_pruner, pruning_callback, startup_trials
from tasks.tuning.storage import StorageGuard, window_trials
from tests.snapshots import published
from tests.tuning_support import tuning_spec_data


@pytest.mark.parametrize(
    ("n_trials", "parallelism", "expected"),
    [(12, 2, 3), (40, 2, 10), (200, 4, 10), (40, 16, 16), (4, 1, 3), (2, 1, 2)],
)
def test_startup_trials_follow_budget_and_parallelism(
    n_trials: int, parallelism: int, expected: int
) -> None:
    assert startup_trials(n_trials, parallelism) == expected


def test_tpe_settings_are_explicit() -> None:
    tuning = TuningSpec(n_trials=40, n_workers=2)
    windowed = build_sampler(tuning, seed=7)
    assert isinstance(windowed, WindowedSampler) and windowed.history == 1000
    sampler = windowed.base
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert sampler._multivariate is True
    assert sampler._constant_liar is True
    assert sampler._n_startup_trials == 10
    plain = build_sampler(
        TuningSpec(sampler={"type": "tpe", "multivariate": False, "constant_liar": False}), 7
    )
    assert isinstance(plain, WindowedSampler)
    plain = plain.base
    assert isinstance(plain, optuna.samplers.TPESampler)
    assert (plain._multivariate, plain._constant_liar) == (False, False)
    assert isinstance(
        build_sampler(TuningSpec(sampler={"type": "random"}), 7), optuna.samplers.RandomSampler
    )


def test_gp_sampler_without_torch_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    with pytest.raises(SpecError, match=r"'gp' needs PyTorch .* pip install 'retune\[gp\]'"):
        build_sampler(TuningSpec(sampler={"type": "gp"}), 7)


def test_pruners_from_the_spec() -> None:
    assert isinstance(build_pruner(PrunerSpec(type="none"), 100), optuna.pruners.NopPruner)
    median = build_pruner(PrunerSpec(n_warmup_steps=4), 100)
    assert isinstance(median, optuna.pruners.MedianPruner)
    assert median._n_warmup_steps == 4
    assert build_pruner(PrunerSpec(), 100)._n_warmup_steps == 50  # type: ignore[attr-defined]
    halving = build_pruner(PrunerSpec(type="successive_halving", min_resource=5), 100)
    assert isinstance(halving, optuna.pruners.SuccessiveHalvingPruner)
    hyperband = build_pruner(PrunerSpec(type="hyperband", min_resource=5), 120)
    assert isinstance(hyperband, optuna.pruners.HyperbandPruner)
    assert hyperband._max_resource == 120


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def dropped(times: int) -> Any:
    calls = {"n": 0}

    def storage_call() -> str:
        calls["n"] += 1
        if calls["n"] <= times:
            error = sqlalchemy.exc.OperationalError(
                "SELECT 1", {}, Exception("(2013, 'Lost connection to MySQL server')")
            )
            raise optuna.exceptions.StorageInternalError("commit failed") from error
        return "done"

    return storage_call


def test_storage_guard_retries_dropped_connections_with_backoff() -> None:
    clock = FakeClock()
    guard = StorageGuard(outage_seconds=60, sleep=clock.sleep, clock=clock)
    assert guard.call("claim a trial", dropped(4)) == "done"
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0]
    assert guard.retries == 4


def test_a_long_outage_fails_with_a_clear_message() -> None:
    clock = FakeClock()
    guard = StorageGuard(outage_seconds=30, sleep=clock.sleep, clock=clock)
    with pytest.raises(StorageUnreachable) as caught:
        guard.call("finish the trial", dropped(1000))
    assert str(caught.value).startswith(
        "Optuna storage unreachable for 30s while trying to finish the trial:"
    )
    assert "The study is intact: retry the task to resume it." in str(caught.value)
    assert 30 <= clock.now < 45


def test_integrity_errors_are_not_retried() -> None:
    guard = StorageGuard(outage_seconds=30, sleep=lambda _: None)

    def duplicate() -> None:
        error = sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("Duplicate entry"))
        raise optuna.exceptions.StorageInternalError("commit failed") from error

    with pytest.raises(optuna.exceptions.StorageInternalError):
        guard.call("add a trial", duplicate)
    assert guard.retries == 0


@pytest.fixture
def fake_cudf(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A stand-in cudf module that reads with pandas and records what it read."""
    reads: list[str] = []
    module = types.ModuleType("cudf")
    module.__spec__ = importlib.machinery.ModuleSpec("cudf", None)

    def read_parquet(path: str, columns: list[str]) -> pd.DataFrame:
        split = Path(path) if Path(path).is_dir() else Path(path).parent
        reads.append(split.name)
        return pd.read_parquet(path, columns=columns)

    module.read_parquet = read_parquet  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cudf", module)
    return reads


def test_gpu_worker_loads_with_cudf_and_trains_on_cuda(
    fake_cudf: list[str], tmp_path: Path
) -> None:
    spec = parse_spec({**tuning_spec_data(n_trials=2, n_workers=1), "gpu": "on"})
    layout = published(tmp_path, spec, "2026-11-21", rows=300)
    assert training_device("on", "cuda") == "cuda"
    snapshot = load_snapshot(layout.dataset_dir, spec, "cuda")
    assert snapshot.engine == "cudf" and fake_cudf == []  # nothing is read up front
    assert len(snapshot.x_valid) == snapshot.rows["valid"] and fake_cudf == ["valid"]
    with build_matrices(snapshot, batch_rows=1000) as matrices:  # batches read with cudf
        assert matrices.rows == snapshot.rows
    assert set(fake_cudf) == {"train", "valid"}
    assert base_params(spec, "cuda", 5, snapshot)["device"] == "cuda"


def test_without_cudf_auto_falls_back_to_cpu_and_on_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "cudf", None)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "cudf" else real(name, *a)
    )
    assert training_device("auto", "cuda") == "cpu"
    assert training_device("off", "cpu") == "cpu"
    with pytest.raises(RetuneError, match="gpu mode 'on' but cudf is not installed"):
        training_device("on", "cuda")


def test_pruning_callback_reports_every_k_rounds_at_round_steps() -> None:
    study = optuna.create_study()
    trial = study.ask()
    spec = PrunerSpec(type="none")
    assert spec.report_interval(200) == 10 and spec.report_interval(15) == 1
    callback = pruning_callback(trial, "valid-rmse", spec, 200)
    for epoch in range(40):
        model = types.SimpleNamespace(num_boosted_rounds=lambda n=epoch + 1: n)
        callback.after_iteration(model, epoch, {"valid": {"rmse": [1.0 / (epoch + 1)]}})
    assert study.trials[0].intermediate_values == {9: 0.1, 19: 0.05, 29: 1 / 30, 39: 0.025}
    # Resumed from a checkpoint after 20 rounds, XGBoost counts epochs from 0 again; the
    # steps stay the model's rounds.
    resumed = study.ask()
    callback = pruning_callback(resumed, "valid-rmse", spec, 200)
    for epoch in range(20):
        model = types.SimpleNamespace(num_boosted_rounds=lambda n=epoch + 21: n)
        callback.after_iteration(model, epoch, {"valid": {"rmse": [1.0 / (epoch + 21)]}})
    assert study.trials[1].intermediate_values == {29: 1 / 30, 39: 0.025}


def finished_trials(values: list[float]) -> list[optuna.trial.FrozenTrial]:
    distributions = {"x": optuna.distributions.FloatDistribution(0, 1)}
    trials = []
    for number, value in enumerate(values):
        trial = optuna.trial.create_trial(
            params={"x": (number % 97) / 97}, distributions=distributions, value=value
        )
        trial.number = number
        trials.append(trial)
    return trials


def test_the_window_keeps_the_best_and_the_most_recent_and_every_running_trial() -> None:
    trials = finished_trials([float(100 - n) if n % 10 else -float(n) for n in range(100)])
    running = optuna.trial.create_trial(state=TrialState.RUNNING)
    running.number = 100
    window = window_trials([*trials, running], history=30, maximize=False, keep_best=5)
    numbers = [t.number for t in window]
    best = [90, 80, 70, 60, 50]  # the lowest values: -90, -80, ...
    assert numbers == sorted(numbers)
    assert set(best) <= set(numbers) and 100 in numbers
    assert len(numbers) == 30 + 1
    # 25 more, the most recent: 99 down to 73 (90 and 80 are kept already)
    assert set(numbers) - set(best) - {100} == set(range(73, 100)) - set(best)
    assert [t.number for t in window_trials(trials, None, maximize=False)] == list(range(100))
    assert len(window_trials(trials[:30], 30, maximize=False)) == 30
    top = window_trials(trials, history=5, maximize=True, keep_best=5)
    assert [t.number for t in top] == [1, 2, 3, 4, 5]  # the highest values: 99, 98, ...


def test_tpe_models_only_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The windowed TPE sees at most ``history`` finished trials, whatever the study holds,
    and reads the study once per trial."""
    from optuna.samplers._tpe import sampler as tpe_module

    seen: list[int] = []
    split = tpe_module._split_trials

    def spy(study: Any, trials: list[Any], n_below: int, *args: Any) -> Any:
        seen.append(len(trials))
        return split(study, trials, n_below, *args)

    monkeypatch.setattr(tpe_module, "_split_trials", spy)
    tuning = TuningSpec(n_trials=400, n_workers=2, sampler={"type": "tpe", "history": 50})
    sampler = build_sampler(tuning, seed=3)
    assert isinstance(sampler, WindowedSampler) and sampler.history == 50
    study = optuna.create_study(sampler=sampler)
    study.add_trials(finished_trials([float(n % 13) for n in range(300)]))
    reads = 0
    storage_read = study._storage.get_all_trials

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += kwargs.get("states") is None  # ask() itself reads the WAITING trials
        return storage_read(*args, **kwargs)

    monkeypatch.setattr(study._storage, "get_all_trials", counted)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    assert 0 <= trial.params["x"] <= 1
    assert seen and max(seen) <= 50 + 1  # the window, and the asking trial (constant liar)
    assert reads == 1
    unbounded = build_sampler(TuningSpec(sampler={"type": "tpe", "history": None}), seed=3)
    assert isinstance(unbounded, WindowedSampler) and unbounded.history is None


def test_a_history_smaller_than_the_best_kept_is_a_spec_error() -> None:
    with pytest.raises(ValueError, match="history"):
        TuningSpec(sampler={"type": "tpe", "history": 10})
