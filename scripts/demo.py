"""`make demo`: generate demo data, run the demo pipeline through Airflow, show the results."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from run_pipeline import print_results, run

from tasks.data import generate

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = "demo_regression"
SPEC = ROOT / "dags" / "specs" / f"{PIPELINE}.yaml"


def main() -> None:
    storage = Path(os.environ.setdefault("RETUNE_STORAGE_ROOT", str(ROOT / "var" / "storage")))
    # The daily run at midnight retunes on the day just ended: the latest ds is yesterday.
    ds = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    for day in generate(storage / "raw" / PIPELINE, date.fromisoformat(ds), days=3, rows=100_000):
        print(day)
    runner = os.environ.get("RETUNE_DEMO_RUNNER", "standalone")
    print_results(run(SPEC, ds, runner))


if __name__ == "__main__":
    main()
