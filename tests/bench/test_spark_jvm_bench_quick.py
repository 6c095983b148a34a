"""bench/spark_jvm.py --quick runs both settings and prints their figures and the ratio."""

from __future__ import annotations

import pytest

from tests.bench import run_bench

pytestmark = pytest.mark.spark


def test_quick_jvm_benchmark_prints_both_settings_and_their_ratio() -> None:
    lines, _ = run_bench("spark_jvm.py", "--quick")
    runs = [line for line in lines if "setting" in line]
    assert sorted(line["setting"] for line in runs) == ["jvm-defaults", "tests-conf"]
    for run in runs:
        assert run["jobs"] == 1 and run["wall_s"] > 0 and run["jvm_cpu_s"] > 0
    ratio = lines[-1]["summary"]["tests_conf_to_defaults"]
    assert set(ratio) == {"wall_s", "jvm_cpu_s", "python_cpu_s"} and ratio["jvm_cpu_s"] > 0
