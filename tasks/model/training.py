"""Train and score XGBoost models on a loaded snapshot (see :mod:`tasks.model.snapshot`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasks.core import RetuneError
from tasks.model.features import FeaturePlan
from tasks.model.snapshot import Snapshot, gpu_loader_available

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import xgboost as xgb

    from tasks.core import PipelineSpec

OBJECTIVES = {
    "regression": "reg:squarederror",
    "binary": "binary:logistic",
    "multiclass": "multi:softprob",
}


@dataclass
class Matrices:
    """XGBoost matrices built once per worker and reused by every trial."""

    train: xgb.DMatrix
    valid: xgb.DMatrix


def training_device(gpu_mode: str, device: str) -> str:
    """The device after checking that the GPU stack can load data: ``auto`` falls back."""
    if device != "cuda" or gpu_loader_available():
        return device
    if gpu_mode == "on":
        raise RetuneError("gpu mode 'on' but cudf is not installed (pip install 'retune[gpu]')")
    return "cpu"


def build_matrices(snapshot: Snapshot) -> Matrices:
    import xgboost as xgb

    train = xgb.QuantileDMatrix(snapshot.x_train, snapshot.y_train, **matrix_args(snapshot.plan))
    valid = xgb.QuantileDMatrix(
        snapshot.x_valid, snapshot.y_valid, ref=train, **matrix_args(snapshot.plan)
    )
    return Matrices(train, valid)


def matrix_args(plan: FeaturePlan) -> dict[str, Any]:
    """Names and types of the encoded features: categorical codes are ``c``."""
    return {
        "feature_names": list(plan.features),
        "feature_types": plan.feature_types,
        "enable_categorical": bool(plan.categories),
    }


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
        params["num_class"] = spec.num_class
    return params


def fit(
    params: dict[str, Any],
    matrices: Matrices,
    num_boost_round: int,
    early_stopping_rounds: int | None,
    callbacks: Sequence[xgb.callback.TrainingCallback] = (),
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
        callbacks=list(callbacks),
    )
    curve = history["valid"][params["eval_metric"]]
    return booster, float(curve[best_rounds(booster, len(curve)) - 1])


def best_rounds(booster: xgb.Booster, num_boost_round: int) -> int:
    """Boosting rounds up to the best iteration (all rounds without early stopping)."""
    best = booster.attributes().get("best_iteration")
    return int(best) + 1 if best is not None else num_boost_round


def predict_valid(
    booster: xgb.Booster, snapshot: Snapshot, rounds: int, plan: FeaturePlan | None = None
) -> Any:
    """Predictions on the valid split, its features encoded by ``plan`` (default: the
    snapshot's own)."""
    plan = plan or snapshot.plan
    return predict_encoded(booster, snapshot.valid_encoded_by(plan), plan, rounds)


def predict_encoded(booster: xgb.Booster, encoded: Any, plan: FeaturePlan, rounds: int) -> Any:
    import xgboost as xgb

    matrix = xgb.DMatrix(encoded, **matrix_args(plan))
    return booster.predict(matrix, iteration_range=(0, rounds))


def to_numpy(values: Any) -> np.ndarray:
    import numpy as np

    if hasattr(values, "to_numpy"):
        return np.asarray(values.to_numpy())
    return np.asarray(values)
