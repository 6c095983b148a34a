"""The hostile specs and run parameters of tests/reliability/test_hostile_input.py, each
with what its error must say (docs/reliability.md lists every one)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from tests.conftest import demo_spec_data


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
