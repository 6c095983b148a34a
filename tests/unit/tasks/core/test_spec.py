from __future__ import annotations

from pathlib import Path

import pytest

from tasks.core import SpecError, load_spec, parse_spec, with_overrides
from tests.conftest import DEMO_SPEC, demo_spec_data


def test_demo_spec_parses_with_inferred_direction() -> None:
    spec = load_spec(DEMO_SPEC)
    assert spec.name == "demo_regression"
    assert spec.study_direction == "minimize"
    assert len(spec.data_schema.features) == 20
    assert spec.search_space["learning_rate"].log is True
    assert spec.source_path("/data", "2026-11-21") == "/data/raw/demo_regression/ds=2026-11-21"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "../etc"}, "name: Value error, must be lower-case letters"),
        ({"metric": "auc"}, "metric 'auc' does not fit task 'regression'"),
        ({"direction": "maximize"}, "direction 'maximize' contradicts metric 'rmse'"),
        ({"task": "ranking"}, "task: Input should be 'regression', 'binary' or 'multiclass'"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
        ({"gpu": "maybe"}, "gpu: Input should be 'auto', 'on' or 'off'"),
        (
            {"search_space": {"eta": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}},
            "search_space.eta: Value error, log scale needs low > 0",
        ),
        (
            {"search_space": {"depth": {"type": "int", "low": 9, "high": 3}}},
            "search_space.depth: Value error, low (9) must be below high (3)",
        ),
        ({"search_space": {}}, "search_space: Dictionary should have at least 1 item"),
        (
            {"tuning": {"n_trials": 0}},
            "tuning.n_trials: Input should be greater than or equal to 1",
        ),
        (
            {"tuning": {"n_trials": 100, "n_workers": 16, "spark_tasks_per_worker": 8}},
            "tuning: Value error, n_workers x spark_tasks_per_worker = 128 exceeds the cap of 64",
        ),
        (
            {"tuning": {"n_trials": 5, "n_workers": 3, "spark_tasks_per_worker": 2}},
            "n_workers x spark_tasks_per_worker = 6 exceeds n_trials = 5",
        ),
        (
            {"tuning": {"sampler": {"type": "cmaes"}}},
            "tuning.sampler.type: Input should be 'tpe', 'random' or 'gp'",
        ),
        (
            {"tuning": {"max_trial_retries": 5}},
            "tuning.max_trial_retries: Input should be less than or equal to 3",
        ),
        (
            {"source": {"path": "/raw/data.csv"}},
            "source.path: Value error, must contain the placeholder {ds}",
        ),
        (
            {"derived_features": {"ratio": "f00 / (abs(f01) +"}},
            "derived_features: 'ratio': 'f00 / (abs(f01) +' does not parse",
        ),
        (
            {"derived_features": {"r": "f00 * nope"}},
            "'r': 'f00 * nope' refers to unknown column(s) ['nope']",
        ),
        (
            {"derived_features": {"m": "avg(f00)"}},
            "'m': 'avg(f00)' must be a per-row expression",
        ),
        ({"derived_features": {"f00": "f01 + 1"}}, "'f00': already a column of schema.columns"),
        ({"split": {"method": "time"}}, "split: Value error, method 'time' needs time_column"),
        (
            {"split": {"method": "time", "time_column": "when"}},
            "split.time_column 'when' is not declared in schema.columns",
        ),
        (
            {"cleaning": {"max_quarantine_fraction": 1.5}},
            "cleaning.max_quarantine_fraction: Input should be less than or equal to 1",
        ),
        (
            {"export": {"retrain_on": "everything"}},
            "export.retrain_on: Input should be 'train' or 'train_valid'",
        ),
        (
            {"export": {"mlflow": {"tracking_uri": "https://me:hunter2@mlflow.example.com"}}},
            "export.mlflow.tracking_uri: Value error, the tracking URI holds a password",
        ),
    ],
)
def test_invalid_spec_names_the_field(change: dict[str, object], message: str) -> None:
    data = demo_spec_data()
    data.update(change)
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source="specs/bad.yaml")
    text = str(caught.value)
    assert text.startswith("specs/bad.yaml: invalid spec")
    assert message in text


def test_target_must_be_declared() -> None:
    data = demo_spec_data()
    data["schema"]["target"] = "label"
    with pytest.raises(SpecError, match="target column 'label' is not declared in schema.columns"):
        parse_spec(data)


def test_spec_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SpecError, match=f"{missing}: cannot read spec"):
        load_spec(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match=f"{broken}: not valid YAML"):
        load_spec(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(SpecError, match="a spec must be a mapping, got int"):
        load_spec(scalar)


def test_run_parameters_override_and_are_validated() -> None:
    spec = load_spec(DEMO_SPEC)
    changed = with_overrides(spec, {"n_trials": 7, "n_workers": None, "gpu": "off"})
    assert (changed.tuning.n_trials, changed.tuning.n_workers, changed.gpu) == (7, 2, "off")
    with pytest.raises(SpecError, match="tuning.n_trials: Input should be greater than or equal"):
        with_overrides(spec, {"n_trials": -3})
    with pytest.raises(SpecError, match=r"unknown run parameter\(s\) \['n_trails'\]"):
        with_overrides(spec, {"n_trails": 3})
    tuned = with_overrides(spec, {"timeout_minutes": 30, "warm_start": False})
    assert (tuned.tuning.timeout_minutes, tuned.tuning.warm_start) == (30, False)
    with pytest.raises(SpecError, match="n_workers x spark_tasks_per_worker = 8 exceeds n_trials"):
        with_overrides(spec, {"n_trials": 4, "spark_tasks_per_worker": 4})


def test_columns_take_a_type_or_a_full_declaration() -> None:
    data = demo_spec_data()
    data["schema"]["columns"].update(
        {
            "amount": {"type": "double", "min": 0, "nullable": False},
            "country": {"type": "string", "allowed": ["de", "fr"]},
            "seen": "timestamp",
        }
    )
    data["schema"]["timestamp"] = "seen"
    data["derived_features"] = {"is_de": "CASE WHEN country = 'de' THEN 1 ELSE 0 END"}
    spec = parse_spec(data)
    columns = spec.data_schema.columns
    assert columns["f00"].type == "double" and columns["f00"].nullable is True
    assert columns["amount"].min == 0 and columns["amount"].nullable is False
    # Strings are categorical features; times are not trained on; derived features are,
    # after the schema's.
    assert spec.model_features == [
        *[f"f{i:02d}" for i in range(20)],
        "amount",
        "country",
        "is_de",
    ]
    assert spec.data_schema.categorical_features == ["country"]


def test_categorical_columns_are_strings_or_marked_integers() -> None:
    data = demo_spec_data()
    data["schema"]["columns"].update(
        {
            "store": {"type": "long", "categorical": True},
            "note": {"type": "string", "feature": False},
            "carrier": "string",
            "flag": "boolean",
        }
    )
    schema = parse_spec(data).data_schema
    assert schema.categorical_features == ["store", "carrier"]
    assert "note" not in schema.features and "flag" in schema.features
    for column, message in [
        ({"type": "double", "categorical": True}, "needs a string, int or long column"),
        ({"type": "string", "categorical": False}, "set feature: false"),
    ]:
        data["schema"]["columns"]["bad"] = column
        with pytest.raises(SpecError, match=message):
            parse_spec(data)


def test_yaml_booleans_for_gpu_read_as_on_and_off(tmp_path: Path) -> None:
    text = DEMO_SPEC.read_text()
    for written, mode in [("off", "off"), ("on", "on"), ("no", "off"), ("false", "off")]:
        path = tmp_path / f"{written}.yaml"
        path.write_text(text.replace("gpu: auto", f"gpu: {written}"))
        assert load_spec(path).gpu == mode


def test_multiclass_takes_its_classes_from_the_spec() -> None:
    data = demo_spec_data()
    data.update(task="multiclass", metric="mlogloss")
    with pytest.raises(SpecError, match=r"schema.columns.y.allowed listing the labels"):
        parse_spec(data)
    data["schema"]["columns"]["y"] = {"type": "long", "allowed": [0, 1, 2, 3]}
    assert parse_spec(data).num_class == 4


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"type": "string", "min": 0}, "min/max need a numeric type, not 'string'"),
        ({"type": "double", "min": 5, "max": 1}, "min (5.0) is above max (1.0)"),
        ({"type": "decimal"}, "Input should be 'double', 'float'"),
    ],
)
def test_bad_column_declarations_are_named(column: dict[str, object], message: str) -> None:
    data = demo_spec_data()
    data["schema"]["columns"]["amount"] = column
    with pytest.raises(SpecError, match="schema.columns.amount") as caught:
        parse_spec(data)
    assert message in str(caught.value)
