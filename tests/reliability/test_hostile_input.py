"""Hostile input: each case is rejected with a named error, and nothing is written.

Specs, run parameters and ds values go through what every stage job does first (parse its
arguments, load the spec with the run's parameters, lay out its paths); run parameters
also through the DAG's Airflow Params, as the UI and ``--conf`` give them. Data goes
through the real ETL on Spark. The data issue's own cases (missing partition, empty file,
a header that differs, ...) are in tests/integration/test_etl_spark.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tasks.core import DataSchemaError, Layout, RetuneError, SpecError
from tasks.data import etl
from tasks.spark import job_spec, stage_args, stage_parser
from tests.conftest import demo_spec_data

DS = "2026-11-21"


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*")}


def first_step_of_a_job(argv: list[str]) -> Layout:
    """What each stage job does before it reads or writes anything."""
    args = stage_parser("retune-test").parse_args(argv)
    spec = job_spec(args)
    return Layout(Path(args.storage_root), spec.name, args.ds)


def spec_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(demo_spec_data())
    change(data)
    return data


def setter(*path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    return change


# id -> (spec change, what the error must say)
SPEC_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown top-level key": (setter("n_trails", value=5), "n_trails: Extra inputs"),
    "unknown nested key": (setter("tuning", "n_trails", value=5), "tuning.n_trails: Extra inputs"),
    "wrong type: string for a number": (
        setter("tuning", "n_trials", value="20"),
        "tuning.n_trials: Input should be a valid integer",
    ),
    "wrong type: boolean for a number": (
        setter("tuning", "num_boost_round", value=True),
        "tuning.num_boost_round: Input should be a valid integer",
    ),
    "empty search space": (setter("search_space", value={}), "search_space: Dictionary should"),
    "empty bounds (low == high)": (
        setter("search_space", "subsample", value={"type": "float", "low": 0.7, "high": 0.7}),
        "search_space.subsample: Value error, low (0.7) must be below high (0.7)",
    ),
    "inverted bounds": (
        setter("search_space", "max_depth", value={"type": "int", "low": 10, "high": 3}),
        "low (10) must be below high (3)",
    ),
    "infinite bound": (
        setter("search_space", "gamma", value={"type": "float", "low": 0, "high": float("inf")}),
        "bounds must be finite numbers",
    ),
    "log scale with a bound of 0": (
        setter(
            "search_space",
            "learning_rate",
            value={"type": "float", "low": 0.0, "high": 0.3, "log": True},
        ),
        "search_space.learning_rate: Value error, log scale needs low > 0",
    ),
    "log scale with a negative bound": (
        setter(
            "search_space",
            "min_child_weight",
            value={"type": "float", "low": -1.0, "high": 5.0, "log": True},
        ),
        "log scale needs low > 0",
    ),
    "categorical with 5000 values": (
        setter(
            "search_space",
            "max_bin",
            value={"type": "categorical", "choices": list(range(5000))},
        ),
        "search_space.max_bin.choices: List should have at most 256 items",
    ),
    "categorical with a value twice": (
        setter("search_space", "booster", value={"type": "categorical", "choices": ["gbtree"] * 2}),
        "choice 'gbtree' is listed twice",
    ),
    "search space names no XGBoost parameter": (
        setter("search_space", "max_dept", value={"type": "int", "low": 1, "high": 3}),
        "'max_dept' is not an XGBoost booster parameter",
    ),
    "search space overrides what Retune sets": (
        setter("search_space", "device", value={"type": "categorical", "choices": ["cuda"]}),
        "'device' is set by Retune",
    ),
    "pipeline name with ../": (setter("name", value="../../etc"), "name: Value error, must be"),
    "pipeline name with shell metacharacters": (
        setter("name", value="demo;rm -rf $HOME`id`"),
        "name: Value error, must be",
    ),
    "pipeline name ending in a newline": (setter("name", value="demo\n"), "name: Value error"),
    "column name with a backtick": (
        setter("schema", "columns", "f00`, `x", value="double"),
        "no backtick or control character",
    ),
    "source path without {ds}": (
        setter("source", "path", value="/data/all.csv"),
        "source.path: Value error, must contain the placeholder {ds}",
    ),
    "conditional approval without a condition": (
        setter("export", "approval", value={"when": "conditional"}),
        "export.approval: Value error, when: conditional needs gain_below, drift_above",
    ),
    "unknown tuning trigger": (
        setter("tuning", "trigger", value="asset"),
        "tuning.trigger: Input should be 'with_data' or 'snapshot_asset'",
    ),
}


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


RUN_PARAM_CASES = {
    "negative n_trials": ({"n_trials": -5}, "tuning.n_trials: Input should be greater than"),
    "huge n_trials": ({"n_trials": 10**12}, "tuning.n_trials: Input should be less than"),
    "negative n_workers": ({"n_workers": -1}, "tuning.n_workers: Input should be greater than"),
    "huge n_workers": ({"n_workers": 100_000}, "tuning.n_workers: Input should be less than"),
    "malformed timeout": (
        {"timeout_minutes": "ten minutes"},
        "tuning.timeout_minutes: Input should be a valid number",
    ),
    "negative timeout": ({"timeout_minutes": -1}, "tuning.timeout_minutes: Input should be"),
    "accept_drift as text": (
        {"accept_drift": "yes"},
        "drift.accept: Input should be a valid boolean",
    ),
    "unknown run parameter": ({"storage_root": "/"}, "unknown run parameter(s) ['storage_root']"),
}


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
