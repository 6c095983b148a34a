"""Row-sample fidelity: the rungs, the nested samples, and trials that climb them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from bench.staging import synthetic_manifest
from tasks.core import FidelitySpec, PipelineSpec, journal_path, parse_spec
from tasks.model import build_matrices, load_snapshot, plan_memory
from tasks.model.loading import row_uniforms
from tasks.tuning import create_study, run_worker, study_name, worker_heartbeat, worker_identity
from tasks.tuning.fidelity import rung_pruner
from tasks.tuning.samplers import build_pruner, warm_startup_trials
from tasks.tuning.storage import StorageGuard, journal_url, open_storage
from tasks.tuning.study import RECORD_ATTR, WARM_POLICY_ATTR
from tasks.tuning.worker import open_studies
from tests.snapshots import published
from tests.tuning_support import complete_trials, tuning_spec_data

DS = "2026-11-21"
ROWS = {"type": "rows"}


def make_spec(**tuning: Any) -> PipelineSpec:
    return parse_spec(tuning_spec_data(**tuning))


@pytest.mark.parametrize(
    ("fidelity", "train_rows", "expected"),
    [
        (ROWS, 80_000, (1 / 9, 1 / 3)),
        (ROWS, 10_000, (1 / 3,)),  # 1/9 of it is under min_rows
        (ROWS, 800, ()),  # a small day trains on all rows only
        ({**ROWS, "min_rows": 100}, 900, (1 / 9, 1 / 3)),
        ({**ROWS, "rungs": 4, "reduction_factor": 2}, 80_000, (1 / 8, 1 / 4, 1 / 2)),
        ({**ROWS, "rungs": 1}, 80_000, ()),
        ({}, 80_000, ()),  # the default, rounds: no row samples
    ],
)
def test_the_rungs_follow_the_spec_and_the_rows(
    fidelity: dict[str, Any], train_rows: int, expected: tuple[float, ...]
) -> None:
    assert FidelitySpec(**fidelity).fractions(train_rows) == pytest.approx(expected)


def test_a_rungs_step_counts_its_rows_in_units_of_the_smallest_sample() -> None:
    spec = FidelitySpec(type="rows")
    assert [spec.step(f) for f in (1 / 9, 1 / 3, 1.0)] == [1, 3, 9]
    pruner = rung_pruner(spec, (1 / 3,))  # 1/9 skipped: the first rung is at step 3
    assert isinstance(pruner, optuna.pruners.SuccessiveHalvingPruner)
    assert pruner._min_resource == 3
    assert isinstance(rung_pruner(spec, ()), optuna.pruners.NopPruner)


def test_row_samples_are_fixed_nested_and_independent_of_batches() -> None:
    whole = row_uniforms(0, 10_000, seed=7)
    batched = np.concatenate([row_uniforms(0, 3_000, 7), row_uniforms(3_000, 7_000, 7)])
    np.testing.assert_array_equal(whole, batched)
    assert ((whole >= 0) & (whole < 1)).all()
    assert abs((whole < 1 / 3).mean() - 1 / 3) < 0.02
    assert abs((whole < 1 / 9).mean() - 1 / 9) < 0.02
    assert not np.array_equal(whole, row_uniforms(0, 10_000, seed=8))


def test_sample_matrices_hold_nested_rows_whatever_the_batch_size(tmp_path: Path) -> None:
    spec = make_spec()
    layout = published(tmp_path, spec, DS, rows=3_000)
    snapshot = load_snapshot(str(layout.dataset_dir), spec)
    fractions = (1 / 9, 1 / 3)
    small = build_matrices(snapshot, batch_rows=1_000, sample_fractions=fractions, sample_seed=3)
    large = build_matrices(snapshot, batch_rows=50_000, sample_fractions=fractions, sample_seed=3)
    train_rows = small.rows["train"]
    labels = {}
    for fraction in fractions:
        a, b = small.sample(fraction), large.sample(fraction)
        np.testing.assert_array_equal(a.train.get_label(), b.train.get_label())
        assert abs(a.rows["train"] - fraction * train_rows) < 0.05 * train_rows
        assert a.rows["valid"] == small.rows["valid"]  # every rung is scored on all valid rows
        labels[fraction] = set(a.train.get_label().tolist())
    assert labels[1 / 9] <= labels[1 / 3] <= set(small.train.get_label().tolist())
    small.close()
    large.close()


def test_a_workers_memory_counts_the_rungs_samples() -> None:
    manifest = synthetic_manifest(DS, {"train": 800_000, "valid": 200_000}, ["f"] * 20)
    by_rows = plan_memory(manifest, make_spec(fidelity=ROWS))
    by_rounds = plan_memory(manifest, make_spec())
    export = plan_memory(manifest, make_spec(fidelity=ROWS), row_samples=False)
    # 800k x 4/9 sampled rows and two valid matrices of 200k, 20 features, 3 bytes a value
    assert by_rows.in_memory_bytes - by_rounds.in_memory_bytes == int(
        (800_000 * 4 / 9 + 2 * 200_000) * 20 * 3
    )
    assert export.in_memory_bytes == by_rounds.in_memory_bytes


def test_trials_climb_the_rungs_and_only_those_on_all_rows_complete(tmp_path: Path) -> None:
    spec = make_spec(
        n_trials=14, n_workers=1, num_boost_round=30, fidelity={**ROWS, "min_rows": 100}, seed=5
    )
    layout = published(tmp_path, spec, DS, rows=2_000)  # 1,600 train rows: 1/9 is 177
    storage = open_storage(journal_url(journal_path(tmp_path)), worker_heartbeat(spec))
    create_study(storage, spec, DS)
    name = study_name(spec.name, DS)
    summary = run_worker(
        storage, {name: None}, spec, str(layout.dataset_dir), worker_identity(spec, 0, 0, 1)
    )
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    assert summary["complete"] + summary["pruned"] == 14 and summary["fail"] == 0
    by_state: dict[TrialState, list[Any]] = {TrialState.COMPLETE: [], TrialState.PRUNED: []}
    for trial in trials:
        by_state[trial.state].append(trial)
        record = trial.user_attrs[RECORD_ATTR]
        steps = sorted(trial.intermediate_values)
        fractions = [r["fraction"] for r in record["rungs"]]
        assert steps == [1, 3][: len(steps)] and len(steps) == len(record["rungs"])
        assert fractions == pytest.approx([1 / 9, 1 / 3][: len(fractions)])
        if trial.state == TrialState.COMPLETE:
            assert record["rung"] == 2 and len(record["rungs"]) == 2  # passed both samples
            assert record["best_rounds"] >= 1
        else:
            assert record["rung"] == len(record["rungs"]) - 1 and "best_rounds" not in record
        assert sum(r["fit_seconds"] for r in record["rungs"]) <= record["fit_seconds"]
    # Successive halving keeps about a third of each rung: most trials stop on a sample.
    assert 1 <= len(by_state[TrialState.COMPLETE]) < len(by_state[TrialState.PRUNED])
    assert any(t.user_attrs[RECORD_ATTR]["rung"] == 0 for t in by_state[TrialState.PRUNED])
    best = optuna.load_study(study_name=name, storage=storage).best_trial
    assert best.state == TrialState.COMPLETE  # export retrains only a trial on all rows


def test_a_small_table_trains_every_trial_on_all_rows(tmp_path: Path) -> None:
    spec = make_spec(n_trials=4, n_workers=1, num_boost_round=20, fidelity=ROWS)  # min 2,000
    layout = published(tmp_path, spec, DS, rows=600)
    storage = open_storage(journal_url(journal_path(tmp_path)), worker_heartbeat(spec))
    create_study(storage, spec, DS)
    name = study_name(spec.name, DS)
    summary = run_worker(
        storage, {name: None}, spec, str(layout.dataset_dir), worker_identity(spec, 0, 0, 1)
    )
    assert summary["complete"] == 4
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    assert all(t.user_attrs[RECORD_ATTR]["rungs"] == [] for t in trials)
    assert all(not t.intermediate_values for t in trials)


def test_a_warm_study_records_its_policy_and_starts_the_model_sooner(tmp_path: Path) -> None:
    spec = make_spec(n_trials=40, n_workers=2, warm_start=True, warm_start_top_k=5)
    storage = open_storage(journal_url(journal_path(tmp_path)))
    base = {"learning_rate": 0.1, "subsample": 0.8, "colsample_bytree": 0.8}
    base |= {"min_child_weight": 1.0, "reg_lambda": 1.0}
    rows = [{**base, "max_depth": depth, "value": depth / 10} for depth in range(3, 9)]
    complete_trials(storage, spec, "2026-11-20", rows)
    created = create_study(storage, spec, DS)
    assert created["warm_started"] == 5
    study = optuna.load_study(study_name=study_name(spec.name, DS), storage=storage)
    policy = study.user_attrs[WARM_POLICY_ATTR]
    # cold: 10 start-up trials; warm: the 5 enqueued and one per worker
    assert policy == {
        "policy": "top_k_first",
        "enqueued": 5,
        "sampler_startup_trials": 7,
        "pruner_waits_for_own_trials": True,
    }
    assert warm_startup_trials(spec.tuning, 5) == 7
    assert warm_startup_trials(spec.tuning, 20) == 10  # never more than a cold start
    works = open_studies(
        storage,
        {study_name(spec.name, DS): None},
        spec,
        worker_identity(spec, 0, 0, 1),
        StorageGuard(5),
    )
    (work,) = works.values()
    assert work.study.sampler.base._n_startup_trials == 7  # type: ignore[union-attr]


def test_the_median_pruner_waits_for_todays_own_trials_besides_the_warm_ones() -> None:
    spec = make_spec()
    pruner = build_pruner(spec.tuning.pruner, 100, warm=5)
    assert pruner._n_startup_trials == 5 + 5  # type: ignore[attr-defined]
