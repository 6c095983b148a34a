"""`make demo`: generate demo data, run the demo pipeline through Airflow, show the results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = "demo_regression"
DAG_ID = f"retune_{PIPELINE}"


def main() -> None:
    storage = Path(os.environ.setdefault("RETUNE_STORAGE_ROOT", str(ROOT / "var" / "storage")))
    # The daily run at midnight retunes on the day just ended: the latest ds is yesterday.
    ds = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    python = sys.executable
    subprocess.run(
        [
            python,
            "-m",
            "tasks.data.demo_data",
            "--root",
            str(storage / "raw" / PIPELINE),
            "--end",
            ds,
            "--days",
            "3",
        ],
        check=True,
    )
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
    model_dir = storage / "models" / PIPELINE / f"ds={ds}"
    card = json.loads((model_dir / "model_card.json").read_text())
    manifest = storage / "datasets" / PIPELINE / f"ds={ds}" / "manifest.json"
    print()
    print(f"model:      {model_dir / 'model.ubj'}")
    print(f"model card: {model_dir / 'model_card.json'}")
    print(f"report:     {model_dir / 'report.html'}")
    print(f"manifest:   {manifest}")
    print(f"data docs:  {storage / 'reports' / PIPELINE / f'ds={ds}' / 'data_docs' / 'index.html'}")
    print(
        f"best {card['metric']['name']} on the valid split: {card['metric']['value']:.4f} "
        f"(study {card['study']['name']}, trial {card['study']['trial_number']})"
    )
    champion = card["champion"]
    verdict = "promoted to champion" if champion["promoted"] else "champion kept"
    print(f"{verdict}: {champion['reason']}")


if __name__ == "__main__":
    main()
