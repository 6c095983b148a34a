"""The feature plan's encoding, on the column types Parquet hands pandas."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.model import FeaturePlan


def plan() -> FeaturePlan:
    return FeaturePlan(
        ("store", "carrier", "late", "x"),
        {"store": ("17", "3"), "carrier": ("UA", "AA")},
    )


def test_codes_are_vocabulary_indexes_and_anything_else_is_missing() -> None:
    frame = pd.DataFrame(
        {
            # An int column with nulls arrives as floats: 17.0 must still be "17".
            "store": [17.0, 3.0, np.nan, 99.0],
            "carrier": ["AA", "UA", None, "ZZ"],
            # A boolean column with nulls arrives as objects.
            "late": pd.Series([True, False, None, True], dtype=object),
            "x": [1.5, -np.inf, np.nan, np.inf],
        }
    )
    encoded = plan().encode(frame)
    assert list(encoded.columns) == ["store", "carrier", "late", "x"]
    assert all(str(t) == "float32" for t in encoded.dtypes)
    rows = encoded.to_numpy().tolist()
    assert rows[0][:3] == [0.0, 1.0, 1.0] and rows[1][:3] == [1.0, 0.0, 0.0]
    assert all(math.isnan(v) for v in rows[2])
    assert math.isnan(rows[3][0]) and math.isnan(rows[3][1])  # unseen: missing
    assert rows[0][3] == 1.5 and math.isnan(rows[1][3]) and math.isnan(rows[3][3])  # inf: missing
    assert plan().feature_types == ["c", "c", "q", "q"]


def test_the_plan_round_trips_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / "features.json"
    plan().write(path)
    assert FeaturePlan.read(path) == plan()
    assert plan().summary() == [
        {"name": "store", "kind": "categorical", "categories": 2},
        {"name": "carrier", "kind": "categorical", "categories": 2},
        {"name": "late", "kind": "numeric"},
        {"name": "x", "kind": "numeric"},
    ]
