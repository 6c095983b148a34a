"""A published snapshot loaded once, XGBoost trained on it, and its metrics."""

from tasks.model.features import CATEGORICAL, NUMERIC, FeaturePlan, category_codes
from tasks.model.metrics import score, standard_scores
from tasks.model.snapshot import Snapshot, load_snapshot, read_manifest, with_valid_in_train
from tasks.model.training import (
    Matrices,
    base_params,
    best_rounds,
    build_matrices,
    fit,
    predict_encoded,
    predict_valid,
    to_numpy,
    training_device,
)

__all__ = [
    "CATEGORICAL",
    "NUMERIC",
    "FeaturePlan",
    "Matrices",
    "Snapshot",
    "base_params",
    "best_rounds",
    "build_matrices",
    "category_codes",
    "fit",
    "load_snapshot",
    "predict_encoded",
    "predict_valid",
    "read_manifest",
    "score",
    "standard_scores",
    "to_numpy",
    "training_device",
    "with_valid_in_train",
]
