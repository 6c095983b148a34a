"""`make run`'s checks before any Airflow starts: the spec and the day, named when wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT, demo_spec_data


def run_pipeline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_pipeline.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_bad_spec_or_day_stops_before_airflow_naming_what_is_wrong(tmp_path: Path) -> None:
    data = demo_spec_data()
    data["gpu"] = "sometimes"
    spec = tmp_path / "mine.yaml"
    spec.write_text(yaml.safe_dump(data))
    result = run_pipeline("--spec", str(spec), "--ds", "2026-11-30")
    assert result.returncode == 1
    assert f"{spec}: invalid spec" in result.stderr and "gpu:" in result.stderr
    assert not (tmp_path / "airflow").exists()

    data["gpu"] = False  # YAML's reading of an unquoted off
    spec.write_text(yaml.safe_dump(data))
    result = run_pipeline("--spec", str(spec), "--ds", "30/11/2026")
    assert result.returncode == 1
    assert "ds '30/11/2026' is not a date of the form YYYY-MM-DD" in result.stderr
