"""The ETL job on a local SparkSession: rows, types and a deterministic split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tasks import etl
from tasks.demo_data import write_day
from tasks.errors import DataSchemaError, RawPartitionMissing
from tasks.layout import Layout
from tasks.spec import parse_spec
from tests.conftest import demo_spec_data

DS = "2026-11-21"


@pytest.fixture(scope="module")
def spec() -> Any:
    return parse_spec(demo_spec_data())


def raw_day(root: Path, rows: int) -> Path:
    from datetime import date

    return write_day(root / "raw" / "demo_regression", date.fromisoformat(DS), rows, seed=1)


def test_etl_writes_every_row_once_with_a_stable_split(
    spark: Any, spec: Any, tmp_path: Path
) -> None:
    raw_day(tmp_path, 5000)
    summary = etl.run(spark, spec, DS, str(tmp_path))
    layout = Layout(tmp_path, spec.name, DS)
    train = pq.read_table(layout.staging_dir / "train").to_pandas()
    valid = pq.read_table(layout.staging_dir / "valid").to_pandas()
    assert summary["rows"] == {"train": len(train), "valid": len(valid)}
    assert len(train) + len(valid) == 5000
    assert set(train["id"]).isdisjoint(valid["id"])
    assert 0.15 < len(valid) / 5000 < 0.25
    assert str(train["id"].dtype) == "int64" and str(train["f00"].dtype) == "float64"
    assert list(train.columns) == list(spec.data_schema.columns)
    assert json.loads((layout.staging_dir / etl.SUMMARY).read_text())["engine"] == "spark-cpu"

    first_valid = set(valid["id"])
    etl.run(spark, spec, DS, str(tmp_path))  # a rerun overwrites and splits the same way
    again = pq.read_table(layout.staging_dir / "valid").to_pandas()
    assert set(again["id"]) == first_valid and len(again) == len(valid)


def test_missing_partition_is_named(spark: Any, spec: Any, tmp_path: Path) -> None:
    expected = tmp_path / "raw" / "demo_regression" / f"ds={DS}"
    with pytest.raises(RawPartitionMissing, match=f"raw partition not found: {expected}"):
        etl.run(spark, spec, DS, str(tmp_path))
    expected.mkdir(parents=True)
    with pytest.raises(RawPartitionMissing, match="raw partition has no data files"):
        etl.run(spark, spec, DS, str(tmp_path))


def test_missing_columns_are_named(spark: Any, spec: Any, tmp_path: Path) -> None:
    folder = tmp_path / "raw" / "demo_regression" / f"ds={DS}"
    folder.mkdir(parents=True)
    (folder / "part.csv").write_text("id,f00,y\n1,0.5,2.0\n")
    with pytest.raises(
        DataSchemaError, match=r"columns \['f01', .*'f19'\] of the spec are missing"
    ):
        etl.run(spark, spec, DS, str(tmp_path))
