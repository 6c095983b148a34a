"""bench/study_scale.py --quick: bookkeeping per trial of a study on MySQL, as JSON lines."""

from __future__ import annotations

import pytest

from tests.bench import run_bench

pytestmark = [pytest.mark.mysql]


def test_quick_study_benchmark_prints_bookkeeping_at_trial_100(mysql_url: str) -> None:
    lines, _ = run_bench("study_scale.py", "--quick", "--mysql-url", mysql_url)
    full, empty, at_100, summary = lines
    assert (full["section"], full["waiting"], empty["waiting"]) == ("reads", 120, 0)
    assert full["read_study_ms"] > 0 and empty["look_for_waiting_ms"] > 0
    assert at_100["at_trial"] == 100 and at_100["workers"] == 2
    assert at_100["history"] == 1000  # the spec's default
    assert 0 < at_100["per_trial_ms"] <= at_100["p90_ms"]
    assert at_100["cpu_ms"] > 0
    assert summary["trials"] == 120  # the whole budget finished, by two processes
    assert summary["per_trial_ms_at_100"] == at_100["per_trial_ms"]
    assert summary["cpu_ms_at_100"] == at_100["cpu_ms"]
    assert summary["claims_lost"] >= 0
