"""Best-model export: the Spark application that retrains the best trial, evaluates it,
decides champion or challenger, writes the model card and report, and logs to MLflow;
and scoring new rows with an exported model."""

from tasks.export.app import run_export
from tasks.export.approval import settle_approval
from tasks.export.best_model import export_best, export_summary, load_best_trial
from tasks.export.champion import champion_lock, promote, read_champion
from tasks.export.mlflow_log import mlflow_environment
from tasks.export.scoring import (
    ScoringModel,
    SegmentRouting,
    champion_folder,
    load_model,
    load_routing,
    score_frame,
    score_partition,
    score_segmented_frame,
    score_segmented_partition,
)
from tasks.export.segments import export_segments, read_segments_index

__all__ = [
    "ScoringModel",
    "SegmentRouting",
    "champion_folder",
    "champion_lock",
    "export_best",
    "export_segments",
    "export_summary",
    "load_best_trial",
    "load_model",
    "load_routing",
    "mlflow_environment",
    "promote",
    "read_champion",
    "read_segments_index",
    "run_export",
    "score_frame",
    "score_partition",
    "score_segmented_frame",
    "score_segmented_partition",
    "settle_approval",
]
