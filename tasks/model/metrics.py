"""Metrics computed from predictions (scikit-learn's), the same way for tuning checks and export.

``pred`` is what ``Booster.predict`` returns: values for regression, the positive class's
probability for binary, a row of class probabilities for multiclass.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import root_mean_squared_error

    return float(root_mean_squared_error(y, pred))


def mae(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import mean_absolute_error

    return float(mean_absolute_error(y, pred))


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y, pred))


def logloss(y: np.ndarray, prob: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y, np.clip(prob, 1e-15, 1 - 1e-15), labels=[0, 1]))


def accuracy(y: np.ndarray, prob: np.ndarray) -> float:
    """Binary at a 0.5 threshold, multiclass by the most probable class."""
    from sklearn.metrics import accuracy_score

    labels = np.argmax(prob, axis=1) if prob.ndim == 2 else (prob > 0.5).astype(int)
    return float(accuracy_score(y.astype(int), labels))


def error(y: np.ndarray, prob: np.ndarray) -> float:
    return 1.0 - accuracy(y, prob)


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, score))


def mlogloss(y: np.ndarray, prob: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y.astype(int), prob, labels=list(range(prob.shape[1]))))


def merror(y: np.ndarray, prob: np.ndarray) -> float:
    return 1.0 - accuracy(y, prob)


METRIC_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "rmse": rmse,
    "mae": mae,
    "r2": r2,
    "logloss": logloss,
    "error": error,
    "accuracy": accuracy,
    "auc": auc,
    "mlogloss": mlogloss,
    "merror": merror,
}
# What export reports for each task, besides the spec's own metric.
STANDARD_METRICS = {
    "regression": ("rmse", "mae", "r2"),
    "binary": ("auc", "logloss", "accuracy"),
    "multiclass": ("mlogloss", "accuracy"),
}


def score(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    return METRIC_FUNCTIONS[metric](np.asarray(y, dtype=float), np.asarray(pred))


def standard_scores(task: str, metric: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The spec's metric first, then the task's standard set."""
    names = dict.fromkeys((metric, *STANDARD_METRICS[task]))
    return {name: score(name, y, pred) for name in names}
