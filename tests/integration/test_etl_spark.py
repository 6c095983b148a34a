"""The ETL job on a local SparkSession: rows, types, quarantine, dedup, split, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tasks.core import (
    ETL_SUMMARY,
    DataQualityError,
    DataSchemaError,
    Layout,
    RawPartitionMissing,
    content_hash,
    parse_spec,
)
from tasks.data import etl, write_day
from tests.conftest import demo_spec_data

DS = "2026-11-21"


@pytest.fixture(scope="module")
def spec() -> Any:
    return parse_spec(demo_spec_data())


def raw_day(root: Path, rows: int) -> Path:
    from datetime import date

    return write_day(root / "raw" / "demo_regression", date.fromisoformat(DS), rows, seed=1)


def raw_folder(root: Path) -> Path:
    folder = root / "raw" / "demo_regression" / f"ds={DS}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def demo_rows(rows: int) -> Any:
    from datetime import date

    from tasks.data import make_frame

    return make_frame(date.fromisoformat(DS), rows, seed=1)


def write_csv(frame: Any, path: Path) -> None:
    frame.to_csv(path, index=False, float_format="%.6g")


def read_staged(layout: Layout) -> Any:
    import pandas as pd

    return pd.concat(
        [pq.read_table(layout.staging_dir / split).to_pandas() for split in ("train", "valid")]
    )


def with_spec(**changes: Any) -> Any:
    data = demo_spec_data()
    for section, value in changes.items():
        data[section] = {**data.get(section, {}), **value} if isinstance(value, dict) else value
    return parse_spec(data)


def test_etl_writes_every_row_once_with_a_stable_split(
    spark: Any, spec: Any, tmp_path: Path
) -> None:
    raw_day(tmp_path, 5000)
    summary = etl.run_etl(spark, spec, DS, str(tmp_path))
    layout = Layout(tmp_path, spec.name, DS)
    train = pq.read_table(layout.staging_dir / "train").to_pandas()
    valid = pq.read_table(layout.staging_dir / "valid").to_pandas()
    assert summary.rows == {"train": len(train), "valid": len(valid)}
    assert len(train) + len(valid) == 5000
    assert set(train["id"]).isdisjoint(valid["id"])
    assert 0.15 < len(valid) / 5000 < 0.25
    assert str(train["id"].dtype) == "int64" and str(train["f00"].dtype) == "float64"
    assert list(train.columns) == list(spec.data_schema.columns)
    assert json.loads((layout.staging_dir / ETL_SUMMARY).read_text())["engine"] == "spark-cpu"

    first_valid, first_hash = set(valid["id"]), content_hash(layout.staging_dir)
    assert all(
        re.fullmatch(r"\.?part-\d{5}\.c\d{3}\.snappy\.parquet(\.crc)?", p.name)
        for p in (layout.staging_dir / "train").iterdir()
    )
    etl.run_etl(spark, spec, DS, str(tmp_path))  # a rerun overwrites and splits the same way
    again = pq.read_table(layout.staging_dir / "valid").to_pandas()
    assert set(again["id"]) == first_valid and len(again) == len(valid)
    assert content_hash(layout.staging_dir) == first_hash  # the same rows, the same hash


def test_the_content_hash_ignores_the_order_parquet_mr_lists_encodings_in(
    spark: Any, spec: Any, tmp_path: Path
) -> None:
    import shutil

    raw_day(tmp_path, 2000)
    etl.run_etl(spark, spec, DS, str(tmp_path))
    staging = Layout(tmp_path, spec.name, DS).staging_dir
    copy = tmp_path / "copy"
    shutil.copytree(staging, copy)
    # As another JVM writes the same rows: a column's encodings listed in another order.
    # A column chunk's encodings: a thrift list<i32> of 3, then the column's path.
    encodings = re.compile(rb"\x195([\x00-\x20])([\x00-\x20])([\x00-\x20])(?=\x19\x18)")
    changed = 0
    for part in (copy / "train").glob("*.parquet"):
        data = part.read_bytes()
        footer = int.from_bytes(data[-8:-4], "little")
        start = len(data) - 8 - footer
        reordered, count = encodings.subn(lambda m: b"\x195" + m.group(0)[2:][::-1], data[start:])
        changed += count
        part.write_bytes(data[:start] + reordered)
        assert pq.read_table(part).num_rows > 0
    assert changed > 0
    assert content_hash(copy) == content_hash(staging)
    part = next((copy / "valid").glob("*.parquet"))
    table = pq.read_table(part).to_pandas()
    table.loc[0, "f00"] += 1.0
    table.to_parquet(part, index=False)
    assert content_hash(copy) != content_hash(staging)


def test_missing_partition_is_named(spark: Any, spec: Any, tmp_path: Path) -> None:
    expected = tmp_path / "raw" / "demo_regression" / f"ds={DS}"
    with pytest.raises(RawPartitionMissing, match=f"raw partition not found: {expected}"):
        etl.run_etl(spark, spec, DS, str(tmp_path))
    expected.mkdir(parents=True)
    with pytest.raises(RawPartitionMissing, match="raw partition has no data files"):
        etl.run_etl(spark, spec, DS, str(tmp_path))


def test_missing_columns_are_named(spark: Any, spec: Any, tmp_path: Path) -> None:
    folder = tmp_path / "raw" / "demo_regression" / f"ds={DS}"
    folder.mkdir(parents=True)
    (folder / "part.csv").write_text("id,f00,y\n1,0.5,2.0\n")
    with pytest.raises(
        DataSchemaError, match=r"columns \['f01', .*'f19'\] of the spec are missing"
    ):
        etl.run_etl(spark, spec, DS, str(tmp_path))


def test_unusable_rows_are_quarantined_and_duplicates_dropped(spark: Any, tmp_path: Path) -> None:
    frame = demo_rows(3000).astype({"f03": "object"})
    frame.loc[[10, 11], "f03"] = "n/a"
    frame.loc[20, "y"] = None
    extra = frame.iloc[100:110].copy()
    extra["y"] = 99.0  # repeated keys: one of each pair is kept, the same one on a rerun
    folder = raw_folder(tmp_path)
    write_csv(frame.iloc[:1500], folder / "part-0.csv")
    write_csv(frame.iloc[1500:], folder / "part-1.csv")
    write_csv(extra, folder / "part-2.csv")
    spec = with_spec(cleaning={"rows_per_file": 1000})

    summary = etl.run_etl(spark, spec, DS, str(tmp_path))
    assert summary.rows_read == 3010
    assert summary.quarantined == 2
    assert summary.quarantine_reasons == {"f03: not a double": 2}
    assert summary.unlabeled == 1  # kept out, but not a wrong row
    assert summary.duplicates_removed == 10
    assert sum(summary.rows.values()) == 2997
    assert summary.source_file_count == 3
    layout = Layout(tmp_path, spec.name, DS)
    quarantine = pq.read_table(layout.reports_dir / "quarantine" / "rows").to_pandas()
    assert sorted(quarantine["id"] % 10_000_000) == [10, 11]
    assert set(quarantine["__reason"]) == {"f03: not a double"}
    train_files = list((layout.staging_dir / "train").glob("*.parquet"))
    assert summary.files["train"] == len(train_files)
    sizes = [pq.ParquetFile(f).metadata.num_rows for f in train_files]
    assert max(sizes) <= 1000 and 3 <= len(sizes) <= 6  # about 2400 rows, at most 1000 a file
    staged = read_staged(layout)
    assert staged["id"].is_unique and len(staged) == 2997

    kept = set(staged.loc[staged["id"].isin(extra["id"]), "y"])
    etl.run_etl(spark, spec, DS, str(tmp_path))
    again = read_staged(layout)
    assert set(again.loc[again["id"].isin(extra["id"]), "y"]) == kept


def test_too_many_unusable_rows_fail_naming_the_columns(spark: Any, tmp_path: Path) -> None:
    frame = demo_rows(1000).astype({"f03": "object"})
    frame.loc[:29, "f03"] = "oops"
    write_csv(frame, raw_folder(tmp_path) / "part.csv")
    spec = with_spec()
    layout = Layout(tmp_path, spec.name, DS)
    layout.staging_dir.mkdir(parents=True)  # an earlier run's staging must not survive
    with pytest.raises(DataQualityError, match=r"30 of 1000 rows \(3.00%\) cannot be used") as e:
        etl.run_etl(spark, spec, DS, str(tmp_path))
    assert "f03: not a double (30 rows)" in str(e.value)
    assert str(layout.reports_dir / "quarantine") in str(e.value)
    assert not layout.staging_dir.exists()
    assert pq.read_table(layout.reports_dir / "quarantine" / "rows").num_rows == 30


def test_all_null_target_fails(spark: Any, tmp_path: Path) -> None:
    frame = demo_rows(500)
    frame["y"] = None
    write_csv(frame, raw_folder(tmp_path) / "part.csv")
    with pytest.raises(
        DataQualityError,
        match=r"500 of 500 rows \(100.00%\) have no 'y' \(unlabelled\), above "
        r"cleaning.max_unlabeled_fraction = 50.00%",
    ):
        etl.run_etl(spark, with_spec(), DS, str(tmp_path))


def test_duplicate_keys_beyond_tolerance_fail(spark: Any, tmp_path: Path) -> None:
    frame = demo_rows(1000)
    write_csv(frame, raw_folder(tmp_path) / "part-0.csv")
    write_csv(frame.iloc[:50], raw_folder(tmp_path) / "part-1.csv")
    with pytest.raises(
        DataQualityError, match=r"50 of 1050 rows \(4.76%\) repeat a key of column 'id'"
    ):
        etl.run_etl(spark, with_spec(), DS, str(tmp_path))
    summary = etl.run_etl(
        spark, with_spec(cleaning={"max_duplicate_fraction": 0.05}), DS, str(tmp_path)
    )
    assert summary.duplicates_removed == 50


def test_a_file_whose_header_differs_is_named(spark: Any, tmp_path: Path) -> None:
    frame = demo_rows(200)
    folder = raw_folder(tmp_path)
    write_csv(frame, folder / "part-0.csv")
    write_csv(frame.rename(columns={"f05": "f5"}), folder / "part-1.csv")
    with pytest.raises(DataSchemaError) as caught:
        etl.run_etl(spark, with_spec(), DS, str(tmp_path))
    # Spark checks each file's header against the first file it reads.
    text = str(caught.value)
    if "cannot read raw partition" in text:
        assert "CSV header does not conform to the schema" in text
        assert "found: f5" in text or "found: f05" in text
    else:
        assert "columns ['f05'] of the spec are missing from the data" in text
        assert f"file {folder / 'part-1.csv'} has the header" in text


def test_empty_file_and_header_only_partition_are_named(spark: Any, tmp_path: Path) -> None:
    folder = raw_folder(tmp_path)
    write_csv(demo_rows(100), folder / "part-0.csv")
    (folder / "part-1.csv").write_text("")
    with pytest.raises(RawPartitionMissing, match=r"empty data file\(s\): .*part-1.csv"):
        etl.run_etl(spark, with_spec(), DS, str(tmp_path))
    (folder / "part-1.csv").unlink()
    write_csv(demo_rows(100).iloc[:0], folder / "part-0.csv")
    with pytest.raises(RawPartitionMissing, match="has no rows"):
        etl.run_etl(spark, with_spec(), DS, str(tmp_path))


def test_parquet_files_by_glob_with_derived_features(spark: Any, tmp_path: Path) -> None:
    frame = demo_rows(2000)
    folder = tmp_path / "raw" / "pq" / f"ds={DS}"
    folder.mkdir(parents=True)
    frame.iloc[:1000].to_parquet(folder / "a.parquet")
    frame.iloc[1000:].to_parquet(folder / "b.parquet")
    (folder / "notes.txt").write_text("not data")
    spec = with_spec(
        source={"path": "{storage_root}/raw/pq/ds={ds}/*.parquet", "format": "parquet"},
        derived_features={"f00_abs": "abs(f00)", "f01_pos": "CASE WHEN f01 > 0 THEN 1 ELSE 0 END"},
    )
    summary = etl.run_etl(spark, spec, DS, str(tmp_path))
    assert summary.source_file_count == 2 and sum(summary.rows.values()) == 2000
    staged = read_staged(Layout(tmp_path, spec.name, DS))
    assert (staged["f00_abs"] == staged["f00"].abs()).all()
    assert (staged["f01_pos"] == (staged["f01"] > 0).astype(float)).all()
    assert summary.derived_features == ["f00_abs", "f01_pos"]


def test_derived_feature_spark_rejects_fails_before_reading(spark: Any, tmp_path: Path) -> None:
    spec = with_spec(derived_features={"g": "no_such_function(f00)"})
    with pytest.raises(DataSchemaError, match="derived feature 'g' = 'no_such_function\\(f00\\)'"):
        etl.run_etl(spark, spec, DS, str(tmp_path))  # no raw data: the check comes first
    spec = with_spec(derived_features={"g": "concat('a', f00)"})
    with pytest.raises(DataSchemaError, match="is a string, not a number"):
        etl.run_etl(spark, spec, DS, str(tmp_path))


def test_an_unreadable_storage_uri_is_named(spark: Any, tmp_path: Path) -> None:
    spec = with_spec(source={"path": "nosuchfs://bucket/raw/ds={ds}"})
    with pytest.raises(
        RawPartitionMissing, match="cannot read raw partition nosuchfs://bucket/raw/ds=2026-11-21"
    ):
        etl.run_etl(spark, spec, DS, str(tmp_path))
