"""The evaluation metrics on known values (tasks.model.metrics)."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.model.metrics import auc, mae, rmse


def test_metrics_on_known_values() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.0, 2.0, 3.0, 6.0])
    assert rmse(y, pred) == pytest.approx(1.0)
    assert mae(y, pred) == pytest.approx(0.5)
    assert auc(np.array([0, 0, 1, 1.0]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
