"""Train and score XGBoost models on a loaded snapshot (see :mod:`tasks.model.snapshot`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasks.core import RetuneError
from tasks.model.features import FeaturePlan
from tasks.model.loading import IN_MEMORY, Matrices, build_split_matrices
from tasks.model.snapshot import Snapshot, gpu_loader_available

if TYPE_CHECKING:
    import numpy as np
    import xgboost as xgb

    from tasks.core import PipelineSpec

OBJECTIVES = {
    "regression": "reg:squarederror",
    "binary": "binary:logistic",
    "multiclass": "multi:softprob",
}


def training_device(gpu_mode: str, device: str) -> str:
    """The device after checking that the GPU stack can load data: ``auto`` falls back."""
    if device != "cuda" or gpu_loader_available():
        return device
    if gpu_mode == "on":
        raise RetuneError("gpu mode 'on' but cudf is not installed (pip install 'retune[gpu]')")
    return "cpu"


def build_matrices(
    snapshot: Snapshot,
    mode: str = IN_MEMORY,
    *,
    train_splits: Sequence[str] = ("train",),
    batch_rows: int | None = None,
    cache_root: str | None = None,
    nthread: int | None = None,
    sample_fractions: Sequence[float] = (),
    sample_seed: int = 0,
) -> Matrices:
    """The snapshot's train and valid matrices, built batch by batch from its files
    (``mode``: ``in_memory`` or ``external_memory``, see :mod:`tasks.model.loading`),
    with a train matrix for each nested row sample of ``sample_fractions``."""
    return build_split_matrices(
        snapshot.split_dir,
        snapshot.plan,
        snapshot.target,
        train_splits=train_splits,
        mode=mode,
        batch_rows=batch_rows,
        engine=snapshot.engine,
        cache_root=cache_root,
        nthread=nthread,
        sample_fractions=sample_fractions,
        sample_seed=sample_seed,
    )


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


@dataclass
class TrainedSoFar:
    """Where an interrupted training stood: the booster after ``rounds`` rounds and its
    validation curve (one value per round), to go on from (see tasks.tuning.checkpoints)."""

    booster: xgb.Booster
    rounds: int
    curve: list[float]
    seed: int | None = None


def fit(
    params: dict[str, Any],
    matrices: Matrices,
    num_boost_round: int,
    early_stopping_rounds: int | None,
    callbacks: Sequence[xgb.callback.TrainingCallback] = (),
    resume: TrainedSoFar | None = None,
) -> tuple[xgb.Booster, float]:
    """Train; return the booster and its validation metric at the best (or last) round.

    ``resume`` goes on from an interrupted training of the same parameters: boosting
    continues from its booster up to ``num_boost_round`` in all, and early stopping
    knows its curve, so the result is the one an uninterrupted training would reach.
    """
    import xgboost as xgb

    metric = params["eval_metric"]
    prior = list(resume.curve) if resume else []
    done = resume.rounds if resume else 0
    callbacks = list(callbacks)
    if early_stopping_rounds is not None:
        stopper = xgb.callback.EarlyStopping(
            rounds=early_stopping_rounds, data_name="valid", metric_name=metric
        )
        if resume is not None:
            # Replayed through the callback's own bookkeeping (a private method): its best
            # score, patience and the booster's best_iteration are as if never stopped.
            for epoch, value in enumerate(prior):
                stopper._update_rounds(
                    score=value, name="valid", metric=metric, model=resume.booster, epoch=epoch
                )
        callbacks.append(stopper)
    if resume is not None and done >= num_boost_round:
        booster, curve = resume.booster, prior
    else:
        history: dict[str, dict[str, list[float]]] = {}
        booster = xgb.train(
            params,
            matrices.train,
            num_boost_round=num_boost_round - done,
            evals=[(matrices.valid, "valid")],
            evals_result=history,
            verbose_eval=False,
            callbacks=callbacks,
            xgb_model=resume.booster if resume else None,
        )
        curve = [*prior, *history["valid"][metric]]
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
