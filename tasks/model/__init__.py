"""A published snapshot loaded once, XGBoost trained on it, and its metrics."""

from tasks.model.features import CATEGORICAL, NUMERIC, FeaturePlan, category_codes
from tasks.model.loading import (
    DEFAULT_BATCH_ROWS,
    EXTERNAL_MEMORY,
    IN_MEMORY,
    Matrices,
    page_rows,
    split_batches,
)
from tasks.model.memory import MemoryPlan, plan_memory
from tasks.model.metrics import score, standard_scores
from tasks.model.segments import SegmentPlan, plan_segments
from tasks.model.snapshot import Snapshot, load_snapshot, read_manifest
from tasks.model.training import (
    TrainedSoFar,
    base_params,
    best_rounds,
    build_matrices,
    fit,
    matrix_args,
    predict_encoded,
    predict_valid,
    to_numpy,
    training_device,
)

__all__ = [
    "CATEGORICAL",
    "DEFAULT_BATCH_ROWS",
    "EXTERNAL_MEMORY",
    "IN_MEMORY",
    "NUMERIC",
    "FeaturePlan",
    "Matrices",
    "MemoryPlan",
    "SegmentPlan",
    "Snapshot",
    "TrainedSoFar",
    "base_params",
    "best_rounds",
    "build_matrices",
    "category_codes",
    "fit",
    "load_snapshot",
    "matrix_args",
    "page_rows",
    "plan_memory",
    "plan_segments",
    "predict_encoded",
    "predict_valid",
    "read_manifest",
    "score",
    "split_batches",
    "standard_scores",
    "to_numpy",
    "training_device",
]
