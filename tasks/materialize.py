"""Publish validated staging data atomically, with a manifest readers can trust."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tasks.atomic import replace_dir
from tasks.content_hash import content_hash
from tasks.errors import SnapshotMissing, ValidationFailed
from tasks.etl import SUMMARY
from tasks.layout import MANIFEST, SPLITS, Layout
from tasks.spec import PipelineSpec
from tasks.validation import RESULT_FILE


def split_schema_and_rows(split_dir: Path) -> tuple[dict[str, str], int]:
    import pyarrow.parquet as pq

    dataset = pq.ParquetDataset(split_dir)
    rows = sum(fragment.metadata.num_rows for fragment in dataset.fragments)
    return {field.name: str(field.type) for field in dataset.schema}, rows


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise SnapshotMissing(f"cannot publish: {what} {path} is missing")
    return dict(json.loads(path.read_text()))


def publish(spec: PipelineSpec, layout: Layout) -> dict[str, Any]:
    """Copy staging aside, write its manifest, then switch it into place at once."""
    staging = layout.staging_dir
    validation = _read_json(staging / RESULT_FILE, "validation result")
    if not validation.get("success"):
        raise ValidationFailed(f"cannot publish {staging}: its validation did not succeed")
    etl_summary = _read_json(staging / SUMMARY, "ETL summary")

    with replace_dir(layout.dataset_dir) as tmp:
        schema: dict[str, str] = {}
        rows: dict[str, int] = {}
        for split in SPLITS:
            shutil.copytree(staging / split, tmp / split)
            schema, rows[split] = split_schema_and_rows(tmp / split)
        stats = validation.get("statistics", {})
        manifest = {
            "pipeline": spec.name,
            "ds": layout.ds,
            "rows": rows,
            "schema": schema,
            "content_hash": content_hash(tmp),
            "source": etl_summary.get("source"),
            "engine": etl_summary.get("engine"),
            "validation": {
                "success": True,
                "evaluated": stats.get("evaluated_expectations"),
                "successful": stats.get("successful_expectations"),
            },
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest
