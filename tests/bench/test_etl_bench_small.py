"""bench/etl.py on a small size: one JSON line per stage, and a snapshot published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench import run_bench

pytestmark = [pytest.mark.spark]


def test_small_run_prints_every_stage_and_publishes(tmp_path: Path) -> None:
    lines, _ = run_bench(
        "etl.py",
        "--rows",
        "20000",
        "--columns",
        "8",
        "--driver-memory",
        "1g",
        "--root",
        str(tmp_path),
    )
    stages = [line for line in lines if "stage" in line]
    assert [s["stage"] for s in stages] == ["generate", "etl", "validate", "materialize"]
    for stage in stages:
        assert stage["rows"] == 20000
        assert stage["seconds"] > 0 and stage["rows_per_s"] > 0 and stage["peak_rss_mb"] > 0
    manifest = json.loads(
        (tmp_path / "datasets" / "bench_etl" / "ds=2026-11-21" / "manifest.json").read_text()
    )
    # The generator leaves about 0.1 % of targets null (unlabelled rows) and repeats about
    # 0.1 % of keys; no row is wrong.
    assert manifest["quarantined"] == 0
    assert 0 < manifest["unlabeled"] < 100 and 0 < manifest["duplicates_removed"] < 100
    kept = 20000 - manifest["unlabeled"] - manifest["duplicates_removed"]
    assert sum(manifest["rows"].values()) == kept
