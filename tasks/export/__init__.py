"""Best-model export: the Spark application that retrains the best trial, evaluates it,
decides champion or challenger, writes the model card and report, and logs to MLflow;
and scoring new rows with an exported model."""

from tasks.export.app import run_export
from tasks.export.best_model import export_best, export_summary, load_best_trial
from tasks.export.champion import champion_lock, promote, read_champion
from tasks.export.mlflow_log import mlflow_environment
from tasks.export.scoring import (
    ScoringModel,
    champion_folder,
    load_model,
    score_frame,
    score_partition,
)

__all__ = [
    "ScoringModel",
    "champion_folder",
    "champion_lock",
    "export_best",
    "export_summary",
    "load_best_trial",
    "load_model",
    "mlflow_environment",
    "promote",
    "read_champion",
    "run_export",
    "score_frame",
    "score_partition",
]
