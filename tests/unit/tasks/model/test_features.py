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


def test_an_arrow_batch_is_encoded_exactly_as_its_pandas_frame() -> None:
    """The loader encodes Arrow batches without pandas; the codes and numbers must be the
    ones :meth:`FeaturePlan.encode` gives the same rows as a frame (export and scoring)."""
    import decimal

    import pyarrow as pa

    batch = pa.record_batch(
        {
            "store": pa.array([17, 3, None, 99], pa.int64()),  # an int column with nulls
            "carrier": pa.array(["AA", "UA", None, "ZZ"]),
            "late": pa.array([True, False, None, True]),
            "x": pa.array([1.5, -np.inf, None, np.inf], pa.float32()),
            "n": pa.array([1, None, 3, 4], pa.int8()),
            "d": pa.array([decimal.Decimal("1.25"), None, decimal.Decimal("-2"), None]),
            "y": pa.array([0.0, 1.0, 2.0, 3.0]),
        }
    )
    wide = FeaturePlan(("x", "late", "store", "carrier", "n", "d"), plan().categories)
    ours = wide.encode_record_batch(batch)
    theirs = wide.encode(batch.to_pandas()).to_numpy()
    assert ours.dtype == np.float32 and ours.shape == (4, 6)
    np.testing.assert_array_equal(ours, theirs)  # NaN where NaN
    assert np.isnan(ours[3, 2]) and ours[0, 2] == 0.0  # "17" is code 0; 99 unseen


def test_a_missing_column_in_an_arrow_batch_is_named() -> None:
    import pyarrow as pa
    import pytest

    with pytest.raises(KeyError, match="'carrier'"):
        plan().encode_record_batch(pa.record_batch({"store": pa.array([1])}))
