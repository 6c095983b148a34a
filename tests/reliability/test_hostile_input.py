"""Hostile input: each case is rejected with a named error, and nothing is written.

Specs, run parameters and ds values go through what every stage job does first (parse its
arguments, load the spec with the run's parameters, lay out its paths); run parameters
also through the DAG's Airflow Params, as the UI and ``--conf`` give them. Data goes
through the real ETL on Spark. The data issue's own cases (missing partition, empty file,
a header that differs, ...) are in tests/integration/test_etl_spark.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tasks.core import DataSchemaError, Layout, RetuneError, SpecError
from tasks.data import etl
from tasks.spark import job_spec, stage_args, stage_parser
from tests.conftest import demo_spec_data
from tests.reliability.hostile_cases import RUN_PARAM_CASES, SPEC_CASES, spec_with

DS = "2026-11-21"


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*")}


def first_step_of_a_job(argv: list[str]) -> Layout:
    """What each stage job does before it reads or writes anything."""
    args = stage_parser("retune-test").parse_args(argv)
    spec = job_spec(args)
    return Layout(Path(args.storage_root), spec.name, args.ds)


@pytest.mark.parametrize("case", SPEC_CASES)
def test_a_hostile_spec_is_named_and_nothing_is_written(case: str, tmp_path: Path) -> None:
    change, message = SPEC_CASES[case]
    spec_file = tmp_path / "specs" / "hostile.yaml"
    spec_file.parent.mkdir()
    spec_file.write_text(yaml.safe_dump(spec_with(change)))
    root = tmp_path / "storage"
    root.mkdir()
    with pytest.raises(SpecError) as caught:
        first_step_of_a_job(stage_args(str(spec_file), DS, str(root)))
    assert str(spec_file) in str(caught.value)
    assert message in str(caught.value)
    assert files_under(root) == set()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed", "not valid YAML"),
        ("just a string", "a spec must be a mapping, got str"),
        ("", "a spec must be a mapping, got NoneType"),
    ],
    ids=["not YAML", "not a mapping", "empty file"],
)
def test_a_spec_file_that_is_no_spec_is_named(text: str, message: str, tmp_path: Path) -> None:
    spec_file = tmp_path / "hostile.yaml"
    spec_file.write_text(text)
    with pytest.raises(SpecError, match=message):
        first_step_of_a_job(stage_args(str(spec_file), DS, str(tmp_path / "storage")))
    assert not (tmp_path / "storage").exists()


@pytest.fixture(scope="module")
def demo_spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "demo_regression.yaml"
    path.write_text(yaml.safe_dump(demo_spec_data()))
    return path


@pytest.mark.parametrize("case", RUN_PARAM_CASES)
def test_a_hostile_run_parameter_is_named_and_nothing_is_written(
    case: str, demo_spec_file: Path, tmp_path: Path
) -> None:
    overrides, message = RUN_PARAM_CASES[case]
    with pytest.raises(SpecError) as caught:
        first_step_of_a_job(stage_args(str(demo_spec_file), DS, str(tmp_path), overrides))
    assert message in str(caught.value)
    assert files_under(tmp_path) == set()


@pytest.mark.parametrize("case", [c for c in RUN_PARAM_CASES if c != "unknown run parameter"])
def test_the_dag_params_refuse_the_same_run_parameters(case: str, demo_spec_file: Path) -> None:
    """The UI form and ``--conf`` are checked by the DAG's Params before a run is created."""
    from airflow.sdk.exceptions import ParamValidationError
    from retune.dag_factory import build_dag

    params = build_dag(demo_spec_file).params
    ((name, value),) = RUN_PARAM_CASES[case][0].items()
    with pytest.raises(ParamValidationError, match=name):
        params[name] = value


@pytest.mark.parametrize(
    "ds", ["2026-13-01", "yesterday", "../../etc", "2026-11-21; rm -rf /", "20261121", ""]
)
def test_a_ds_that_is_not_a_date_is_refused_before_anything_starts(
    ds: str, demo_spec_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        first_step_of_a_job(stage_args(str(demo_spec_file), ds, str(tmp_path)))
    assert caught.value.code == 2
    assert f"argument --ds: ds {ds!r} is not a date of the form YYYY-MM-DD" in (
        capsys.readouterr().err
    )
    with pytest.raises(RetuneError, match="is not a date"):
        Layout(tmp_path, "demo_regression", ds)
    assert files_under(tmp_path) == set()


def raw_partition(root: Path) -> Path:
    folder = root / "raw" / "demo_regression" / f"ds={DS}"
    folder.mkdir(parents=True)
    return folder


def written_by_etl(root: Path) -> set[Path]:
    return files_under(root) - files_under(root / "raw") - {root / "raw"}


@pytest.mark.spark
def test_a_file_that_is_not_csv_at_all_is_named(spark: Any, tmp_path: Path) -> None:
    from tasks.core import parse_spec

    folder = raw_partition(tmp_path)
    # A gzip header and binary noise, named .csv.
    (folder / "part-0.csv").write_bytes(bytes([0x1F, 0x8B, 8, 0]) + bytes(range(256)) * 40)
    with pytest.raises(DataSchemaError) as caught:
        etl.run_etl(spark, parse_spec(demo_spec_data()), DS, str(tmp_path))
    assert str(folder / "part-0.csv") in str(caught.value)
    assert "the file is gzip-compressed but its name does not end in .gz" in str(caught.value)
    assert written_by_etl(tmp_path) == set()
    # Binary noise without any known signature is read as text: no spec column is found.
    (folder / "part-0.csv").write_bytes(bytes([0xFE, 0x00, 8, 0]) + bytes(range(256)) * 40)
    with pytest.raises(DataSchemaError, match="missing from the data"):
        etl.run_etl(spark, parse_spec(demo_spec_data()), DS, str(tmp_path))
    assert written_by_etl(tmp_path) == set()


@pytest.mark.spark
def test_a_parquet_file_with_a_different_schema_is_named(spark: Any, tmp_path: Path) -> None:
    import pandas as pd

    from tasks.core import parse_spec

    folder = raw_partition(tmp_path)
    pd.DataFrame({"id": [1, 2], "price": [3.0, 4.0]}).to_parquet(folder / "part-0.parquet")
    data = demo_spec_data()
    data["source"] = {**data["source"], "format": "parquet"}
    spec = parse_spec(data)
    with pytest.raises(DataSchemaError) as caught:
        etl.run_etl(spark, spec, DS, str(tmp_path))
    assert "columns ['id'," in str(caught.value) or "columns [" in str(caught.value)
    assert "are missing from the data (found ['id', 'price'])" in str(caught.value)
    assert written_by_etl(tmp_path) == set()


@pytest.mark.spark
def test_a_broken_parquet_file_is_named(spark: Any, tmp_path: Path) -> None:
    from datetime import date as date_

    from tasks.core import parse_spec
    from tasks.data import make_frame

    folder = raw_partition(tmp_path)
    make_frame(date_.fromisoformat(DS), 200, seed=1).to_parquet(folder / "part-0.parquet")
    whole = (folder / "part-0.parquet").read_bytes()
    (folder / "part-1.parquet").write_bytes(whole[: len(whole) // 2])  # cut off mid-write
    data = demo_spec_data()
    data["source"] = {**data["source"], "format": "parquet"}
    with pytest.raises(RetuneError) as caught:
        etl.run_etl(spark, parse_spec(data), DS, str(tmp_path))
    assert "part-1.parquet" in str(caught.value)
    assert written_by_etl(tmp_path) == set()
