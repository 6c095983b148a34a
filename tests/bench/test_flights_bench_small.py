"""bench/flights.py on one day: ETL and fit lines for both variants, on the real rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench import run_bench

pytestmark = [pytest.mark.spark]


def test_one_day_prints_etl_and_fit_for_both_variants(tmp_path: Path) -> None:
    lines, _ = run_bench(
        "flights.py", "--days", "1", "--fits", "1", "--repeats", "1", "--root", str(tmp_path)
    )
    stages = [(line["variant"], line["stage"]) for line in lines if "stage" in line]
    assert stages == [
        ("categorical", "etl"),
        ("numeric", "etl"),
        ("categorical", "fit"),
        ("numeric", "fit"),
    ]
    by = {(line["variant"], line["stage"]): line for line in lines if "stage" in line}
    assert by["categorical", "etl"]["rows"] == by["numeric", "etl"]["rows"] > 600
    assert set(by["categorical", "etl"]["categories"]) == {"carrier", "origin", "dest", "tailnum"}
    assert by["numeric", "etl"]["categories"] == {}
    assert by["categorical", "fit"]["categorical_features"] == 4
    assert by["numeric", "fit"]["categorical_features"] == 0
    assert by["categorical", "fit"]["features"] == by["numeric", "fit"]["features"] + 4
    assert by["categorical", "fit"]["valid_rmse"] > 0 and by["numeric", "fit"]["seconds"] > 0
