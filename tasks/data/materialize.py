"""Publish validated staging data atomically, with a manifest readers can trust.

The snapshot is copied aside, checked against what validation passed (content hash) and
what ETL wrote (rows), given its manifest and a ``_SUCCESS`` marker, then switched into
``datasets/<pipeline>/ds=<ds>/`` in one step. Readers see the previous complete snapshot
or the new one.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tasks.core import (
    MANIFEST,
    SPLITS,
    SUCCESS_MARKER,
    Layout,
    PipelineSpec,
    SnapshotCorrupt,
    SnapshotMissing,
    StorageNotWritable,
    ValidationFailed,
    content_hash,
    replace_dir,
)


def split_schema_and_rows(split_dir: Path) -> tuple[dict[str, str], int]:
    import pyarrow.parquet as pq

    dataset = pq.ParquetDataset(split_dir)
    rows = sum(fragment.metadata.num_rows for fragment in dataset.fragments)
    return {field.name: str(field.type) for field in dataset.schema}, rows


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise SnapshotMissing(f"cannot publish: {what} {path} is missing")
    return dict(json.loads(path.read_text()))


def build_manifest(
    spec: PipelineSpec,
    layout: Layout,
    snapshot: Path,
    etl_summary: dict[str, Any],
    gate: dict[str, Any],
) -> dict[str, Any]:
    """The manifest of the snapshot copied to ``snapshot``, after checking it."""
    digest = content_hash(snapshot)
    if digest != gate.get("content_hash"):
        raise SnapshotCorrupt(
            f"cannot publish {layout.staging_dir}: its data changed after validation "
            f"(content hash {digest} != {gate.get('content_hash')}); re-run validate"
        )
    schema: dict[str, str] = {}
    rows: dict[str, int] = {}
    for split in SPLITS:
        schema, rows[split] = split_schema_and_rows(snapshot / split)
    staged_rows = etl_summary.get("rows")
    if staged_rows is not None and staged_rows != rows:
        raise SnapshotCorrupt(
            f"cannot publish {layout.staging_dir}: rows {rows} differ from the {staged_rows} "
            "ETL wrote; re-run etl"
        )
    return {
        "pipeline": spec.name,
        "ds": layout.ds,
        "rows": rows,
        "schema": schema,
        "features": spec.model_features,
        # Each categorical feature's vocabulary: a value's code is its index.
        "categories": etl_summary.get("categories") or {},
        "unlabeled": etl_summary.get("unlabeled"),
        "ignored_columns": etl_summary.get("ignored_columns") or [],
        "content_hash": digest,
        "source": etl_summary.get("source"),
        "source_file_count": etl_summary.get("source_file_count"),
        "source_files": etl_summary.get("source_files"),
        "rows_read": etl_summary.get("rows_read"),
        "quarantined": etl_summary.get("quarantined"),
        "duplicates_removed": etl_summary.get("duplicates_removed"),
        "engine": etl_summary.get("engine"),
        "validation": {
            key: gate.get(key)
            for key in ("success", "evaluated", "warnings", "warned", "result_path", "data_docs")
        },
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_error(exc: OSError) -> str:
    """What went wrong, in one line; copytree gathers its errors into one shutil.Error."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        errors = exc.args[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{errors[0][2]}{more}"
    return f"{exc.strerror}: {exc.filename}" if exc.strerror else str(exc)


def run_materialize(spec: PipelineSpec, layout: Layout) -> dict[str, Any]:
    """Copy staging aside, check it, write its manifest, then switch it into place at once."""
    staging = layout.staging_dir
    gate = _read_json(layout.gate_file, "validation gate file (run validate first)")
    if not gate.get("success"):
        raise ValidationFailed(f"cannot publish {staging}: its validation did not succeed")
    etl_summary = _read_json(layout.etl_summary_file, "ETL summary")

    try:
        with replace_dir(layout.dataset_dir) as tmp:
            for split in SPLITS:
                shutil.copytree(staging / split, tmp / split)
            manifest = build_manifest(spec, layout, tmp, etl_summary, gate)
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
            (tmp / SUCCESS_MARKER).touch()
    except OSError as exc:
        raise StorageNotWritable(
            f"cannot publish {staging} to {layout.dataset_dir}: {write_error(exc)}; nothing was "
            "published and the previous snapshot, if any, is unchanged"
        ) from exc
    return manifest
