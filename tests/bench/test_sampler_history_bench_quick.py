"""bench/sampler_history.py --quick: search quality and sampling time by sampler history."""

from __future__ import annotations

from tests.bench import run_bench


def test_quick_history_benchmark_compares_a_window_with_every_trial() -> None:
    lines, _ = run_bench("sampler_history.py", "--quick")
    runs = [line for line in lines if line["section"] == "history"]
    summaries = {line["history"]: line for line in lines if line["section"] == "history_summary"}
    assert [run["history"] for run in runs] == [50, None]
    assert set(summaries) == {50, None}
    for run in runs:
        assert run["trials"] == 120
        # Hartmann-6's minimum is -3.32237; any search of 120 trials gets below -2
        assert -3.33 < run["best_at_120"] <= run["best_at_100"] < -2
        assert run["sample_ms_last_100"] > 0
    assert summaries[50]["median_regret_at_120"] >= 0
