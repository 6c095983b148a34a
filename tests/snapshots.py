"""Build small published snapshots for tests without running Spark."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.demo_data import make_frame
from tasks.etl import SUMMARY
from tasks.layout import Layout
from tasks.materialize import publish
from tasks.validation import RESULT_FILE


def stage(layout: Layout, rows: int, valid_fraction: float = 0.2) -> None:
    """Write staging Parquet for ``layout`` as the ETL job would, marked as validated."""
    frame: Any = make_frame(date.fromisoformat(layout.ds), rows, seed=3)
    cut = int(rows * (1 - valid_fraction))
    for split, part in (("train", frame.iloc[:cut]), ("valid", frame.iloc[cut:])):
        (layout.staging_dir / split).mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.Table.from_pandas(part, preserve_index=False),
            layout.staging_dir / split / "part-00000.parquet",
        )
    (layout.staging_dir / SUMMARY).write_text(
        json.dumps({"source": "tests", "engine": "pandas", "rows": {"train": cut}})
    )
    (layout.staging_dir / RESULT_FILE).write_text(
        json.dumps({"success": True, "statistics": {"evaluated_expectations": 0}})
    )


def published(root: Path, spec: Any, ds: str, rows: int) -> Layout:
    layout = Layout(root, spec.name, ds)
    stage(layout, rows)
    publish(spec, layout)
    return layout
