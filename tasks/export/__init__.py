"""Best-model export: the Spark application that retrains the best trial, evaluates it,
decides champion or challenger, writes the model card and report, and logs to MLflow."""

from tasks.export.app import run_export
from tasks.export.best_model import export_best, export_summary, load_best_trial
from tasks.export.champion import champion_lock, promote, read_champion
from tasks.export.mlflow_log import mlflow_environment

__all__ = [
    "champion_lock",
    "export_best",
    "export_summary",
    "load_best_trial",
    "mlflow_environment",
    "promote",
    "read_champion",
    "run_export",
]
