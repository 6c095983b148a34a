"""Metrics computed from predictions, the same way for tuning checks and export."""

from __future__ import annotations

import numpy as np


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def mae(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(y - pred)))


def logloss(y: np.ndarray, prob: np.ndarray) -> float:
    p = np.clip(prob, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def error(y: np.ndarray, prob: np.ndarray) -> float:
    return float(np.mean((prob > 0.5).astype(float) != y))


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve by the rank statistic (ties get average ranks)."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=float)
    sorted_scores = score[order]
    i = 0
    while i < len(score):
        j = i
        while j + 1 < len(score) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    positives = y == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def mlogloss(y: np.ndarray, prob: np.ndarray) -> float:
    p = np.clip(prob[np.arange(len(y)), y.astype(int)], 1e-15, 1.0)
    return float(-np.mean(np.log(p)))


def merror(y: np.ndarray, prob: np.ndarray) -> float:
    return float(np.mean(np.argmax(prob, axis=1) != y.astype(int)))


METRIC_FUNCTIONS = {
    "rmse": rmse,
    "mae": mae,
    "logloss": logloss,
    "error": error,
    "auc": auc,
    "mlogloss": mlogloss,
    "merror": merror,
}


def score(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    return METRIC_FUNCTIONS[metric](np.asarray(y, dtype=float), np.asarray(pred))
