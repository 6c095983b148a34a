"""`make demo`: generate demo data, run the demo pipeline through Airflow, show the results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tasks.core import Layout
from tasks.data import generate

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = "demo_regression"
DAG_ID = f"retune_{PIPELINE}"


def main() -> None:
    storage = Path(os.environ.setdefault("RETUNE_STORAGE_ROOT", str(ROOT / "var" / "storage")))
    # The daily run at midnight retunes on the day just ended: the latest ds is yesterday.
    ds = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    for day in generate(storage / "raw" / PIPELINE, date.fromisoformat(ds), days=3, rows=100_000):
        print(day)
    python = sys.executable
    runner = os.environ.get("RETUNE_DEMO_RUNNER", "standalone")
    subprocess.run(
        [
            python,
            str(ROOT / "scripts" / "airflow_run.py"),
            "--dag",
            DAG_ID,
            "--ds",
            ds,
            "--runner",
            runner,
        ],
        check=True,
    )
    layout = Layout(storage, PIPELINE, ds)
    card = json.loads(layout.card_file.read_text())
    print()
    print(f"model:      {layout.model_file}")
    print(f"model card: {layout.card_file}")
    print(f"report:     {layout.report_file}")
    print(f"manifest:   {layout.manifest_file}")
    print(f"data docs:  {layout.data_docs_index}")
    print(f"run spec:   {layout.run_spec_file(card['run_id'])} (SHA-256 {card['spec_sha256']})")
    print(
        f"best {card['metric']['name']} on the valid split: {card['metric']['value']:.4f} "
        f"(study {card['study']['name']}, trial {card['study']['trial_number']})"
    )
    champion = card["champion"]
    verdict = "promoted to champion" if champion["promoted"] else "champion kept"
    print(f"{verdict}: {champion['reason']}")


if __name__ == "__main__":
    main()
