"""Load a published snapshot once, then train and score XGBoost models on it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.errors import SnapshotMissing
from tasks.layout import MANIFEST
from tasks.metrics import score

if TYPE_CHECKING:
    import numpy as np
    import xgboost as xgb

    from tasks.spec import PipelineSpec

OBJECTIVES = {
    "regression": "reg:squarederror",
    "binary": "binary:logistic",
    "multiclass": "multi:softprob",
}


@dataclass
class Snapshot:
    """One published dataset, loaded into memory once per worker."""

    manifest: dict[str, Any]
    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    features: list[str]


@dataclass
class Matrices:
    """XGBoost matrices built once per worker and reused by every trial."""

    train: xgb.DMatrix
    valid: xgb.DMatrix


def read_manifest(dataset_dir: str | Path) -> dict[str, Any]:
    path = Path(dataset_dir) / MANIFEST
    if not path.is_file():
        raise SnapshotMissing(f"no published snapshot: {path} does not exist")
    return dict(json.loads(path.read_text()))


def load_snapshot(dataset_dir: str | Path, spec: PipelineSpec) -> Snapshot:
    import pyarrow.parquet as pq

    dataset_dir = Path(dataset_dir)
    manifest = read_manifest(dataset_dir)
    features = spec.data_schema.features
    target = spec.data_schema.target
    arrays = {}
    for split in ("train", "valid"):
        table = pq.read_table(dataset_dir / split, columns=[*features, target])
        frame = table.to_pandas()
        arrays[split] = (
            frame[features].to_numpy(dtype="float32"),
            frame[target].to_numpy(dtype="float32"),
        )
    return Snapshot(manifest, *arrays["train"], *arrays["valid"], features)


def build_matrices(snapshot: Snapshot) -> Matrices:
    import xgboost as xgb

    train = xgb.QuantileDMatrix(snapshot.x_train, snapshot.y_train, feature_names=snapshot.features)
    valid = xgb.QuantileDMatrix(
        snapshot.x_valid, snapshot.y_valid, ref=train, feature_names=snapshot.features
    )
    return Matrices(train, valid)


def base_params(spec: PipelineSpec, device: str, seed: int, snapshot: Snapshot) -> dict[str, Any]:
    params: dict[str, Any] = {
        "objective": OBJECTIVES[spec.task],
        "eval_metric": spec.metric,
        "tree_method": "hist",
        "device": device,
        "nthread": spec.tuning.nthread,
        "seed": seed,
        "verbosity": 0,
    }
    if spec.task == "multiclass":
        params["num_class"] = int(max(snapshot.y_train.max(), snapshot.y_valid.max())) + 1
    return params


def fit(
    params: dict[str, Any],
    matrices: Matrices,
    num_boost_round: int,
    early_stopping_rounds: int | None,
) -> tuple[xgb.Booster, float]:
    """Train; return the booster and its validation metric at the best (or last) round."""
    import xgboost as xgb

    history: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(
        params,
        matrices.train,
        num_boost_round=num_boost_round,
        evals=[(matrices.valid, "valid")],
        early_stopping_rounds=early_stopping_rounds,
        evals_result=history,
        verbose_eval=False,
    )
    curve = history["valid"][params["eval_metric"]]
    return booster, float(curve[best_rounds(booster, len(curve)) - 1])


def best_rounds(booster: xgb.Booster, num_boost_round: int) -> int:
    """Boosting rounds up to the best iteration (all rounds without early stopping)."""
    best = booster.attributes().get("best_iteration")
    return int(best) + 1 if best is not None else num_boost_round


def evaluate(booster: xgb.Booster, snapshot: Snapshot, metric: str, rounds: int) -> float:
    import xgboost as xgb

    dvalid = xgb.DMatrix(snapshot.x_valid, feature_names=snapshot.features)
    pred = booster.predict(dvalid, iteration_range=(0, rounds))
    return score(metric, snapshot.y_valid, pred)
