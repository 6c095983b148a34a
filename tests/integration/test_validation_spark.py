"""The Great Expectations gate on Spark: reports, Data Docs, severities, failures with evidence."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bench.staging import stage_frame
from tasks.core import (
    DOCS_DIR,
    GATE_FILE,
    RESULT_FILE,
    Layout,
    SpecError,
    ValidationFailed,
    content_hash,
    parse_spec,
)
from tasks.data import failure, make_frame, run_validate
from tests.conftest import demo_spec_data

DS = "2026-11-21"


def spec_with(**validation: Any) -> Any:
    data = demo_spec_data()
    data["validation"].update(validation)
    return parse_spec(data)


def staged(root: Path, rows: int = 2000, valid_fraction: float = 0.2, **changes: Any) -> Layout:
    layout = Layout(root, "demo_regression", DS)
    frame = make_frame(date.fromisoformat(DS), rows, seed=5)
    for column, value in changes.items():
        frame[column] = value
    stage_frame(layout, frame, valid_fraction)
    (layout.staging_dir / GATE_FILE).unlink()  # staged by "ETL", not yet validated
    return layout


def test_passing_data_gets_reports_data_docs_and_the_gate_file(spark: Any, tmp_path: Path) -> None:
    layout = staged(tmp_path)
    spec = spec_with(
        target_stdev=[0.5, 20.0],
        expectations=[
            {
                "type": "expect_column_max_to_be_between",
                "kwargs": {"column": "f00", "max_value": 1},
                "severity": "warn",  # f00 is standard normal: this fails, as a warning
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "f01", "min_value": -10, "max_value": 10},
            },
        ],
    )
    summary = run_validate(spark, spec, layout.ds, str(layout.root))
    assert summary.success is True
    assert summary.warnings == 1
    assert summary.warned == ["expect_column_max_to_be_between(f00)"]
    assert summary.content_hash == content_hash(layout.staging_dir)
    written = json.loads((layout.staging_dir / GATE_FILE).read_text())
    assert written == json.loads(summary.to_json())
    assert written["format"] == "retune-validation-gate/1"
    result = json.loads((layout.reports_dir / RESULT_FILE).read_text())
    # 22 columns x (exists, type) + not-null key/target + unique key + row count
    # + target (finite, distinct values, stdev) + split share + 2 extras
    assert result["statistics"]["evaluated_expectations"] == 22 * 2 + 2 + 1 + 1 + 3 + 1 + 2
    index = layout.reports_dir / DOCS_DIR / "index.html"
    assert index.is_file() and "retune.demo_regression" in index.read_text()
    assert list((layout.reports_dir / DOCS_DIR / "validations").rglob("*.html"))
    assert failure(layout) is None


def test_failed_expectations_are_named_with_evidence_and_nothing_is_gated(
    spark: Any, tmp_path: Path
) -> None:
    layout = staged(tmp_path, valid_fraction=0.5)
    data = demo_spec_data()
    data["schema"]["columns"]["f00"] = {"type": "double", "min": 0}
    data["validation"]["min_rows"] = 5000
    spec = parse_spec(data)
    with pytest.raises(ValidationFailed) as caught:
        run_validate(spark, spec, layout.ds, str(layout.root))
    text = str(caught.value)
    assert "3 of" in text
    # Each failure names the spec field that sets the check, then GX's name for it.
    assert "schema.columns.f00.min = 0.0, schema.columns.f00.max = None: observed '" in text
    assert "validation.min_rows = 5000: observed 2000" in text
    assert "[Great Expectations: expect_table_row_count_to_be_between()]" in text
    assert (
        "split.valid_fraction = 0.2 within validation.split_tolerance = 0.02 (widened to "
        "0.03578 for 2000 rows): observed 0.5"
    ) in text
    assert "[Great Expectations: expect_column_mean_to_be_between(__is_valid)]" in text
    assert f"full result: {layout.reports_dir / RESULT_FILE}" in text
    assert str(layout.reports_dir / DOCS_DIR / "index.html") in text
    assert not (layout.staging_dir / GATE_FILE).exists()
    assert (layout.reports_dir / DOCS_DIR / "index.html").is_file()  # the evidence stays
    # What the validate task raises after the job exits: the same error, from the result file.
    again = failure(layout)
    assert again is not None and str(again) == text


def test_a_constant_target_fails(spark: Any, tmp_path: Path) -> None:
    layout = staged(tmp_path, rows=1500, y=1.0)
    with pytest.raises(
        ValidationFailed,
        match=r"schema.target = y \(at least two distinct values\): observed 1, expected "
        r"\{'min_value': 2\} \[Great Expectations: expect_column_unique_value_count_to_be_between",
    ):
        run_validate(spark, spec_with(), layout.ds, str(layout.root))


def test_an_unknown_extra_expectation_is_a_spec_error_before_any_work(
    spark: Any, tmp_path: Path
) -> None:
    layout = staged(tmp_path, rows=1200)
    spec = spec_with(expectations=[{"type": "expect_column_to_be_purple", "kwargs": {}}])
    with pytest.raises(
        SpecError, match=r"validation.expectations\[0\] \(expect_column_to_be_purple\)"
    ):
        run_validate(spark, spec, layout.ds, str(layout.root))
    assert not (layout.reports_dir / RESULT_FILE).exists()
