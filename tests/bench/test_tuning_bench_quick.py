"""bench/tuning.py --quick runs both systems and prints the figures a program can compare."""

from __future__ import annotations

import pytest

from tests.bench import run_bench

pytestmark = [pytest.mark.mysql, pytest.mark.spark]
KEYS = {
    "system",
    "day",
    "seed",
    "wall_s",
    "fit_s",
    "efficiency",
    "best_value",
    "distinct_params",
    "finished_trials",
    "time_to_other_best_s",
}


def test_quick_benchmark_prints_one_json_line_per_system_day_and_seed(mysql_url: str) -> None:
    lines, printed = run_bench("tuning.py", "--quick", "--mysql-url", mysql_url)
    runs = [line for line in lines if "day" in line]
    assert sorted((r["system"], r["day"]) for r in runs) == [
        ("retune", 1), ("retune", 2), ("retune-1x2threads", 1), ("retune-cold", 2),
        ("retune-rows", 1), ("retune-rows", 2), ("seed-approach", 1), ("seed-approach", 2),
    ]  # fmt: skip
    for run in runs:
        assert set(run) >= KEYS
        assert run["finished_trials"] == 8
        assert 0 < run["efficiency"] <= 1.0
        assert run["fit_s"] > 0 and run["best_value"] > 0
    by_system = {(r["system"], r["day"]): r for r in runs}
    assert by_system[("retune", 1)]["distinct_params"] == 8
    # Row-sample fidelity: the quick data (6,400 train rows, rungs of at least 500) has
    # both samples, and every trial trained on the smallest.
    rows = by_system[("retune-rows", 1)]["trials_by_rung"]
    assert sum(rows.values()) == 8 and set(rows) <= {"0", "1", "2"}
    assert by_system[("retune", 1)]["trials_by_rung"] == {}
    bookkeeping = {line["system"]: line for line in lines if "per_trial_ms" in line}
    assert set(bookkeeping) == {"bare-optuna-bookkeeping", "retune-bookkeeping"}
    assert bookkeeping["retune-bookkeeping"]["ratio_to_bare"] > 0
    checks = [line["fidelity_check"] for line in lines if "fidelity_check" in line]
    assert [c["fraction"] for c in checks] == [0.1111, 0.3333, 1.0]
    assert checks[-1]["spearman_to_all_rows"] == 1.0 and checks[0]["rows"] < checks[1]["rows"]
    summary = lines[-1]["summary"]
    assert {"ttq_cold_ratio", "ttq_warm_ratio", "best_cold_ratio", "best_warm_ratio"} <= set(
        summary["targets"]
    )
    assert "ttq_rows_ratio" in summary["levers"]
    assert mysql_url.split("@")[0].split(":")[-1] not in printed  # password masked
