"""Build small published snapshots for tests without running Spark."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from bench.staging import stage_frame
from tasks.core import Layout
from tasks.data import make_frame, run_materialize


def stage(layout: Layout, rows: int, valid_fraction: float = 0.2) -> None:
    """Write staging Parquet for ``layout`` as the ETL job would, marked as validated."""
    stage_frame(layout, make_frame(date.fromisoformat(layout.ds), rows, seed=3), valid_fraction)


def published(root: Path, spec: Any, ds: str, rows: int) -> Layout:
    layout = Layout(root, spec.name, ds)
    stage(layout, rows)
    run_materialize(spec, layout)
    return layout
