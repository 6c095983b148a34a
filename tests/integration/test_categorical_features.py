"""Categorical features: one vocabulary per snapshot, the same codes in tuning, export,
champion scoring and scoring new rows; an unseen category is missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from bench.staging import stage_frame
from tasks.core import FEATURES_FILE, Layout, journal_path, parse_spec
from tasks.data import run_materialize
from tasks.export import export_best, load_model, read_champion, score_frame
from tasks.export.champion import score_champion
from tasks.model import FeaturePlan, base_params, build_matrices, fit, load_snapshot
from tasks.tuning import WorkerIdentity, create_study, run_worker, study_name
from tasks.tuning.storage import journal_url, open_storage

DS, NEXT_DS = "2026-11-21", "2026-11-22"
CARRIERS = [f"C{i:02d}" for i in range(30)]


def spec(name: str = "cats", carrier_is_feature: bool = True) -> Any:
    return parse_spec(
        {
            "name": name,
            "start_date": "2026-11-01",
            "source": {"path": "{storage_root}/raw/ds={ds}"},
            "schema": {
                "key": "id",
                "target": "y",
                "columns": {
                    "id": "long",
                    "carrier": {"type": "string", "feature": carrier_is_feature},
                    "x": "double",
                    "y": "double",
                },
            },
            "task": "regression",
            "metric": "rmse",
            "search_space": {"max_depth": {"type": "int", "low": 3, "high": 6}},
            "tuning": {"n_trials": 2, "n_workers": 1, "num_boost_round": 60, "seed": 1},
            "gpu": "off",
        }
    )


def flights_like(rows: int, seed: int, skew: float = 1.0) -> pd.DataFrame:
    """y depends mostly on the carrier; ``skew`` changes which carriers are frequent."""
    rng = np.random.default_rng(seed)
    weights = np.arange(1, len(CARRIERS) + 1, dtype=float) ** skew
    carrier = rng.choice(CARRIERS, size=rows, p=weights / weights.sum())
    effects = np.random.default_rng(0).normal(0, 3, len(CARRIERS))
    effect = dict(zip(CARRIERS, effects.tolist(), strict=True))
    x = rng.normal(size=rows)
    y = np.array([effect[c] for c in carrier]) + 0.5 * x + rng.normal(0, 0.3, rows)
    carrier = carrier.astype(object)
    carrier[rng.random(rows) < 0.05] = None  # real exports have gaps
    return pd.DataFrame(
        {"id": np.arange(rows) + seed * 1_000_000, "carrier": carrier, "x": x, "y": y}
    )


def publish(root: Path, the_spec: Any, ds: str, frame: pd.DataFrame) -> Layout:
    layout = Layout(root, the_spec.name, ds)
    stage_frame(layout, frame, categorical=tuple(the_spec.data_schema.categorical_features))
    run_materialize(the_spec, layout)
    return layout


def valid_rmse(the_spec: Any, layout: Layout) -> float:
    snapshot = load_snapshot(layout.dataset_dir, the_spec)
    params = {**base_params(the_spec, "cpu", 0, snapshot), "max_depth": 4}
    return fit(params, build_matrices(snapshot), 60, None)[1]


def test_the_categorical_column_makes_a_better_model(tmp_path: Path) -> None:
    frame = flights_like(3000, seed=1)
    with_carrier = valid_rmse(spec(), publish(tmp_path, spec(), DS, frame))
    without = spec("nocats", carrier_is_feature=False)
    without_carrier = valid_rmse(without, publish(tmp_path, without, DS, frame))
    assert with_carrier < 0.5 * without_carrier, (with_carrier, without_carrier)


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Any, Layout]:
    """A study tuned and exported on a snapshot with a categorical column."""
    the_spec = spec()
    layout = publish(tmp_path, the_spec, DS, flights_like(2000, seed=1))
    storage = open_storage(journal_url(journal_path(tmp_path)))
    create_study(storage, the_spec, DS)
    identity = WorkerIdentity(0, 0, 1, 11, "cpu")
    run_worker(
        storage, {study_name(the_spec.name, DS): None}, the_spec, str(layout.dataset_dir), identity
    )
    export_best(the_spec, layout, storage, "journal")
    return the_spec, layout


def test_export_keeps_the_snapshots_vocabulary_and_the_card_lists_kinds(
    exported: tuple[Any, Layout],
) -> None:
    _, layout = exported
    manifest = json.loads(layout.manifest_file.read_text())
    plan = FeaturePlan.read(layout.features_file)
    assert list(plan.categories["carrier"]) == manifest["categories"]["carrier"]["values"]
    card = json.loads(layout.card_file.read_text())
    assert card["features"] == [
        {"name": "carrier", "kind": "categorical", "categories": len(plan.categories["carrier"])},
        {"name": "x", "kind": "numeric"},
    ]
    assert card["feature_importance"]["carrier"] > card["feature_importance"]["x"]
    assert "carrier (categorical)" in layout.report_file.read_text()


def test_an_unseen_category_scores_exactly_like_a_missing_one(
    exported: tuple[Any, Layout],
) -> None:
    _, layout = exported
    model = load_model(layout.model_dir)
    rows = pd.DataFrame(
        {"id": [1, 2, 3], "carrier": ["NEVER_SEEN", None, "C29"], "x": [0.2, 0.2, 0.2]}
    )
    unseen, missing, known = score_frame(model, rows)
    assert unseen == missing
    assert known != missing  # the carrier matters: the test could fail


def test_the_champion_is_scored_with_its_own_vocabulary(exported: tuple[Any, Layout]) -> None:
    the_spec, layout = exported
    champion = read_champion(layout)
    assert champion is not None
    # The next day's frequencies differ, so its vocabulary orders the carriers otherwise.
    next_layout = publish(layout.root, the_spec, NEXT_DS, flights_like(2000, seed=2, skew=-1.0))
    snapshot = load_snapshot(next_layout.dataset_dir, the_spec)
    old_plan = FeaturePlan.read(Path(champion.model).with_name(FEATURES_FILE))
    assert snapshot.plan.categories["carrier"] != old_plan.categories["carrier"]

    value, why_not = score_champion(champion, the_spec, snapshot)
    assert why_not == ""
    valid = pd.read_parquet(next_layout.dataset_dir / "valid")
    expected = score_frame(load_model(Path(champion.model).parent), valid)
    rmse = float(np.sqrt(np.mean((expected - valid["y"].to_numpy()) ** 2)))
    assert value == pytest.approx(rmse, rel=1e-5)
    # Read with the new day's codes, the champion would be far worse.
    model = load_model(Path(champion.model).parent)
    matrix = xgb.DMatrix(
        snapshot.x_valid, feature_types=snapshot.plan.feature_types, enable_categorical=True
    )
    wrong = model.booster.predict(matrix, iteration_range=(0, model.rounds))
    wrong_rmse = float(np.sqrt(np.mean((wrong - valid["y"].to_numpy()) ** 2)))
    assert wrong_rmse > 1.5 * rmse


def test_a_champion_that_read_a_column_as_a_number_is_replaced_not_misread(
    tmp_path: Path,
) -> None:
    """A champion from before categorical features (no features.json) knew ``carrier`` as
    a number: it cannot score the new snapshot, so the new model replaces it."""
    from tasks.core import MODEL_FILE
    from tasks.export.champion import decide
    from tests.export_support import point_champion_at

    the_spec = spec()
    layout = publish(tmp_path, the_spec, DS, flights_like(500, seed=1))
    rng = np.random.default_rng(0)
    old = xgb.train(
        {"max_depth": 2},
        xgb.DMatrix(rng.normal(size=(50, 2)), rng.normal(size=50), feature_names=["carrier", "x"]),
        3,
    )
    folder = tmp_path / "old"
    folder.mkdir()
    old.save_model(str(folder / MODEL_FILE))
    point_champion_at(Layout(tmp_path, the_spec.name, "2026-11-01"), folder, rounds=3)
    snapshot = load_snapshot(layout.dataset_dir, the_spec)
    decision = decide(the_spec, 1.0, read_champion(layout), snapshot)
    assert decision.promoted
    assert (
        decision.reason == "the champion was trained on other features: the new model replaces it"
    )
