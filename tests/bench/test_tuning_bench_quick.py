"""bench/tuning.py --quick runs both systems and prints the figures a program can compare."""

from __future__ import annotations

import pytest

from tests.bench import run_bench

pytestmark = [pytest.mark.mysql, pytest.mark.spark]
KEYS = {
    "system",
    "seed",
    "wall_s",
    "fit_s",
    "efficiency",
    "best_value",
    "distinct_params",
    "finished_trials",
    "time_to_other_best_s",
}


def test_quick_benchmark_prints_one_json_line_per_system_and_seed(mysql_url: str) -> None:
    lines, printed = run_bench("tuning.py", "--quick", "--mysql-url", mysql_url)
    runs = [line for line in lines if line.get("system") in ("retune", "seed-approach")]
    assert sorted(r["system"] for r in runs) == ["retune", "seed-approach"]
    for run in runs:
        assert set(run) >= KEYS
        assert run["finished_trials"] == 8
        assert 0 < run["efficiency"] <= 1.0
        assert run["fit_s"] > 0 and run["best_value"] > 0
    by_system = {r["system"]: r for r in runs}
    assert by_system["retune"]["distinct_params"] == 8
    bookkeeping = {line["system"]: line for line in lines if "per_trial_ms" in line}
    assert set(bookkeeping) == {"bare-optuna-bookkeeping", "retune-bookkeeping"}
    assert bookkeeping["retune-bookkeeping"]["ratio_to_bare"] > 0
    summary = lines[-1]["summary"]
    assert {"retune_efficiency", "retune_reach_over_seed_wall", "bookkeeping_ratio"} <= set(
        summary["targets"]
    )
    assert mysql_url.split("@")[0].split(":")[-1] not in printed  # password masked
