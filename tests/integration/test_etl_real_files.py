"""ETL on what real exports contain: RFC 4180 quoting, BOM, CRLF, compression, odd values."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import zstandard

from tasks.core import DataSchemaError, Layout, parse_spec
from tasks.data import etl

DS = "2026-11-21"
ROWS = 400


def spec(**cleaning: Any) -> Any:
    return parse_spec(
        {
            "name": "exports",
            "start_date": "2026-11-01",
            "source": {"path": "{storage_root}/raw/ds={ds}"},
            "schema": {
                "key": "id",
                "target": "y",
                "columns": {
                    "id": "long",
                    "carrier": "string",
                    "note": {"type": "string", "feature": False},
                    "x": "double",
                    "y": "double",
                },
            },
            "task": "regression",
            "metric": "rmse",
            "cleaning": cleaning,
            "search_space": {"max_depth": {"type": "int", "low": 2, "high": 4}},
            "gpu": "off",
        }
    )


def frame(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    carriers = rng.choice(["UA", "AA", "B6", "DL"], size=rows, p=[0.4, 0.3, 0.2, 0.1])
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "carrier": carriers,
            # What a free-text field of a real export holds (RFC 4180 quotes all of it).
            "note": [f'late, "weather"\nline {i}' if i % 7 == 0 else "ok" for i in range(rows)],
            "x": rng.normal(size=rows),
            "y": rng.normal(size=rows),
        }
    )


def folder(root: Path) -> Path:
    path = root / "raw" / f"ds={DS}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def staged_rows(root: Path) -> pd.DataFrame:
    layout = Layout(root, "exports", DS)
    return pd.concat(
        [pq.read_table(layout.staging_dir / split).to_pandas() for split in ("train", "valid")]
    )


def test_quoted_delimiters_quotes_and_line_breaks_are_read_as_pandas_wrote_them(
    spark: Any, tmp_path: Path
) -> None:
    written = frame()
    written.to_csv(folder(tmp_path) / "day.csv", index=False)
    summary = etl.run_etl(spark, spec(), DS, str(tmp_path))
    assert summary.rows_read == ROWS and summary.quarantined == 0
    staged = staged_rows(tmp_path).sort_values("id").reset_index(drop=True)
    assert list(staged["note"]) == list(written["note"])
    # The vocabulary: from the train split, most frequent first.
    vocabulary = summary.categories["carrier"]
    assert vocabulary["values"] == ["UA", "AA", "B6", "DL"]
    assert vocabulary["distinct_in_train"] == 4


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("day.csv", lambda text: ("\ufeff" + text).encode("utf-8")),  # BOM (Excel's UTF-8)
        ("day.csv", lambda text: text.replace("\n", "\r\n").encode()),  # CRLF
        ("day.csv.gz", lambda text: gzip.compress(text.encode())),
        ("day.csv.bz2", lambda text: bz2.compress(text.encode())),
        ("day.csv.zst", lambda text: zstandard.ZstdCompressor().compress(text.encode())),
    ],
    ids=["bom", "crlf", "gzip", "bzip2", "zstd"],
)
def test_encodings_line_endings_and_compression_spark_reads(
    spark: Any, tmp_path: Path, name: str, encode: Any
) -> None:
    written = frame().assign(note="ok")
    (folder(tmp_path) / name).write_bytes(encode(written.to_csv(index=False)))
    summary = etl.run_etl(spark, spec(), DS, str(tmp_path))
    assert summary.rows_read == ROWS and summary.quarantined == 0
    staged = staged_rows(tmp_path).sort_values("id").reset_index(drop=True)
    assert list(staged["carrier"]) == list(written["carrier"])
    np.testing.assert_allclose(staged["y"], written["y"])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("day.csv", gzip.compress(b"id,x\n1,2\n"), "is gzip-compressed but its name does not end"),
        ("day.csv", b"PK\x03\x04rest-of-a-workbook", r"is a zip archive \(or an Excel workbook\)"),
        ("day.csv", b"PAR1\x00\x00", "is a Parquet file, not CSV"),
    ],
)
def test_a_file_of_another_format_fails_naming_it(
    spark: Any, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    (folder(tmp_path) / name).write_bytes(content)
    with pytest.raises(DataSchemaError, match=message) as caught:
        etl.run_etl(spark, spec(), DS, str(tmp_path))
    assert str(folder(tmp_path) / name) in str(caught.value)
    assert not Layout(tmp_path, "exports", DS).staging_dir.exists()


def test_non_finite_targets_are_quarantined_and_infinite_features_are_missing(
    spark: Any, tmp_path: Path
) -> None:
    written = frame().assign(note="ok").astype({"y": object, "x": object})
    written.loc[1, "y"] = "NaN"
    written.loc[2, "y"] = "inf"
    written.loc[3, "x"] = "-Infinity"
    written.loc[4, "y"] = None  # unlabelled
    written.to_csv(folder(tmp_path) / "day.csv", index=False)
    summary = etl.run_etl(spark, spec(max_quarantine_fraction=0.05), DS, str(tmp_path))
    assert summary.quarantine_reasons == {"y: not finite (NaN or infinity)": 2}
    assert summary.unlabeled == 1
    staged = staged_rows(tmp_path).set_index("id")
    assert {1, 2, 4}.isdisjoint(staged.index) and len(staged) == ROWS - 3
    assert np.isnan(staged.loc[3, "x"]) and np.isfinite(staged["y"]).all()


def test_extra_columns_are_ignored_with_a_warning_and_order_does_not_matter(
    spark: Any, tmp_path: Path
) -> None:
    written = frame().assign(note="ok", gate="A1", terminal=2)
    written[["y", "gate", "x", "id", "terminal", "note", "carrier"]].to_csv(
        folder(tmp_path) / "day.csv", index=False
    )
    summary = etl.run_etl(spark, spec(), DS, str(tmp_path))
    assert summary.ignored_columns == ["gate", "terminal"]
    assert "2 column(s) of the data are not in the spec" in summary.warnings[0]
    staged = staged_rows(tmp_path)
    assert "gate" not in staged.columns and len(staged) == ROWS


def test_unlabelled_rows_beyond_the_quarantine_limit_pass(spark: Any, tmp_path: Path) -> None:
    # A day of flights: about one in twenty is cancelled and has no arrival delay.
    written = frame().assign(note="ok")
    written.loc[written.index % 20 == 0, "y"] = None
    written.to_csv(folder(tmp_path) / "day.csv", index=False)
    summary = etl.run_etl(spark, spec(), DS, str(tmp_path))
    assert summary.unlabeled == ROWS // 20 and summary.quarantined == 0
    assert sum(summary.rows.values()) == ROWS - ROWS // 20


def test_ragged_rows_are_quarantined_with_their_reason(spark: Any, tmp_path: Path) -> None:
    text = "id,carrier,note,x,y\n1,UA,ok,0.5,1.0\n2,AA,ok,0.7\n3,B6,ok,0.1,2.0,surplus\n"
    rows = "".join(f"{i},DL,ok,{i / 100},{i / 10}\n" for i in range(4, 200))
    (folder(tmp_path) / "day.csv").write_text(text + rows)
    summary = etl.run_etl(spark, spec(max_quarantine_fraction=0.05), DS, str(tmp_path))
    assert summary.quarantine_reasons == {"row: more or fewer fields than the header": 2}
    assert summary.unlabeled == 0 and summary.ignored_columns == []
    staged = staged_rows(tmp_path).set_index("id")
    assert {2, 3}.isdisjoint(staged.index) and len(staged) == 197
    quarantine = pq.read_table(Layout(tmp_path, "exports", DS).quarantine_dir / "rows")
    assert sorted(quarantine.column("id").to_pylist()) == [2, 3]
