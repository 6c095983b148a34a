"""The run-parameter table: each parameter sets a spec field, bounded like it."""

from __future__ import annotations

import pytest

from tasks.core import (
    RUN_PARAMETERS,
    SpecError,
    param_schema,
    params_for,
    parse_spec,
    spec_sha256,
    spec_value,
    with_overrides,
)
from tests.conftest import demo_spec_data


def test_every_run_parameter_sets_a_spec_field_for_the_run() -> None:
    spec = parse_spec(demo_spec_data())
    for param in RUN_PARAMETERS:
        spec_value(spec, param.path)  # the field exists (None: no segments section)
        assert param.description.endswith(".")
    fresh = with_overrides(spec, {"fresh_study": True, "n_trials": 7})
    assert fresh.tuning.fresh_study is True and fresh.tuning.n_trials == 7
    # So it reaches the run's spec.json, and its hash.
    assert spec_sha256(fresh) != spec_sha256(with_overrides(spec, {"n_trials": 7}))


def test_a_params_schema_is_the_bounds_of_the_field_it_sets() -> None:
    by_name = {p.name: param_schema(p) for p in RUN_PARAMETERS}
    assert by_name["n_trials"] == {"type": "integer", "minimum": 1, "maximum": 10000}
    assert by_name["timeout_minutes"] == {
        "type": ["null", "number"],
        "exclusiveMinimum": 0,
        "maximum": 7 * 24 * 60,
    }
    assert by_name["gpu"] == {"type": "string", "enum": ["auto", "on", "off"]}
    assert by_name["fresh_study"] == {"type": "boolean"}
    segments = by_name["segments"]
    assert segments["type"] == ["null", "array"] and segments["minItems"] == 1
    assert segments["items"]["type"] == "string" and segments["items"]["pattern"].startswith("^")


def test_a_pipeline_without_segments_offers_no_segments_param() -> None:
    plain = parse_spec(demo_spec_data())
    names = [p.name for p in params_for(plain, "data", "tuning")]
    assert "segments" not in names and names[-1] == "gpu"
    assert [p.name for p in params_for(plain, "data")] == ["accept_drift", "gpu"]


def test_an_unknown_run_parameter_is_refused_with_the_known_ones() -> None:
    with pytest.raises(SpecError, match=r"unknown run parameter\(s\) \['n_trails'\]; known: "):
        with_overrides(parse_spec(demo_spec_data()), {"n_trails": 3})
