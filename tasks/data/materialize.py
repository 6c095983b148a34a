"""Publish validated staging data atomically, with a manifest readers can trust.

The snapshot is copied aside, checked against what validation passed (content hash) and
what ETL wrote (rows), given its manifest and a ``_SUCCESS`` marker, then switched into
``datasets/<pipeline>/ds=<ds>/`` in one step. Readers see the previous complete snapshot
or the new one.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from tasks.core import (
    MANIFEST,
    SEGMENT_COLUMN,
    SPLITS,
    SUCCESS_MARKER,
    DriftDetected,
    EtlSummary,
    Layout,
    PipelineSpec,
    SegmentEntry,
    SnapshotCorrupt,
    SnapshotManifest,
    SnapshotMissing,
    StorageNotWritable,
    ValidationFailed,
    ValidationGate,
    ValidationSummary,
    content_hash,
    replace_dir,
)
from tasks.data.drift import compare_to_champion, drift_message, snapshot_profile


def split_schema_and_rows(split_dir: Path) -> tuple[dict[str, str], int]:
    import pyarrow.parquet as pq

    dataset = pq.ParquetDataset(split_dir)
    rows = sum(fragment.metadata.num_rows for fragment in dataset.fragments)
    return {field.name: str(field.type) for field in dataset.schema}, rows


def build_manifest(
    spec: PipelineSpec,
    layout: Layout,
    snapshot: Path,
    etl_summary: EtlSummary,
    gate: ValidationGate,
) -> SnapshotManifest:
    """The manifest of the snapshot copied to ``snapshot``, after checking it (its
    profile and drift are added once scored)."""
    digest = content_hash(snapshot)
    if digest != gate.content_hash:
        raise SnapshotCorrupt(
            f"cannot publish {layout.staging_dir}: its data changed after validation "
            f"(content hash {digest} != {gate.content_hash}); re-run validate"
        )
    schema: dict[str, str] = {}
    rows: dict[str, int] = {}
    for split in SPLITS:
        schema, rows[split] = split_schema_and_rows(snapshot / split)
    staged_rows = etl_summary.rows
    if staged_rows != rows:
        raise SnapshotCorrupt(
            f"cannot publish {layout.staging_dir}: rows {rows} differ from the {staged_rows} "
            "ETL wrote; re-run etl"
        )
    return SnapshotManifest(
        pipeline=spec.name,
        ds=layout.ds,
        rows=rows,
        segments=snapshot_segments(spec, layout, snapshot, etl_summary),
        column_types=schema,
        features=spec.model_features,
        categories=etl_summary.categories,
        unlabeled=etl_summary.unlabeled,
        ignored_columns=etl_summary.ignored_columns,
        content_hash=digest,
        source=etl_summary.source,
        source_file_count=etl_summary.source_file_count,
        source_files=etl_summary.source_files,
        rows_read=etl_summary.rows_read,
        quarantined=etl_summary.quarantined,
        duplicates_removed=etl_summary.duplicates_removed,
        engine=etl_summary.engine,
        validation=ValidationSummary.model_validate(
            gate.model_dump(include=set(ValidationSummary.model_fields))
        ),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def snapshot_segments(
    spec: PipelineSpec, layout: Layout, snapshot: Path, etl_summary: EtlSummary
) -> dict[str, SegmentEntry] | None:
    """Each segment's value, rows per split (read from its files, checked against what ETL
    counted) and content hash; None for a pipeline without segments."""
    if spec.segments is None:
        return None
    counted = etl_summary.segments
    if counted is None:
        raise SnapshotCorrupt(
            f"cannot publish {layout.staging_dir}: the spec has segments but the ETL summary "
            "counts none; re-run etl"
        )
    segments: dict[str, SegmentEntry] = {}
    for key, entry in sorted(counted.items()):
        rows = {
            split: segment_rows(snapshot / split / f"{SEGMENT_COLUMN}={key}") for split in SPLITS
        }
        if rows != entry.get("rows"):
            raise SnapshotCorrupt(
                f"cannot publish {layout.staging_dir}: segment {key!r} has rows {rows} in its "
                f"files, ETL counted {entry.get('rows')}; re-run etl"
            )
        segments[key] = SegmentEntry(
            value=entry.get("value"), rows=rows, content_hash=content_hash(snapshot, key)
        )
    return segments


def segment_rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    if not folder.is_dir():
        return 0
    return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(folder.glob("*.parquet")))


def write_error(exc: OSError) -> str:
    """What went wrong, in one line; copytree gathers its errors into one shutil.Error."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        errors = exc.args[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{errors[0][2]}{more}"
    return f"{exc.strerror}: {exc.filename}" if exc.strerror else str(exc)


def run_materialize(spec: PipelineSpec, layout: Layout) -> SnapshotManifest:
    """Copy staging aside, check it, profile it and score its drift from the champion's
    snapshot, write its manifest, then switch it into place at once.

    Drift past ``drift.error`` (unless accepted) publishes nothing: the previous snapshot,
    if any, stays, and ``drift.json`` in the day's reports names the features."""
    staging = layout.staging_dir
    if not layout.gate_file.is_file():
        raise SnapshotMissing(
            f"cannot publish: validation gate file {layout.gate_file} is missing (run validate "
            "first)"
        )
    gate = ValidationGate.read(layout.gate_file)
    if not gate.success:
        raise ValidationFailed(f"cannot publish {staging}: its validation did not succeed")
    if not layout.etl_summary_file.is_file():
        raise SnapshotMissing(f"cannot publish: ETL summary {layout.etl_summary_file} is missing")
    etl_summary = EtlSummary.read(layout.etl_summary_file)

    try:
        with replace_dir(layout.dataset_dir) as tmp:
            for split in SPLITS:
                shutil.copytree(staging / split, tmp / split)
            manifest = build_manifest(spec, layout, tmp, etl_summary, gate)
            drift = compare_to_champion(spec, layout, tmp)
            # What was compared is kept also when nothing is published.
            drift.write(layout.drift_file)
            if drift.stops:
                raise DriftDetected(drift_message(spec, layout, drift))
            manifest = manifest.model_copy(
                update={"profile": snapshot_profile(spec, tmp), "drift": drift}
            )
            manifest.write(tmp / MANIFEST)
            (tmp / SUCCESS_MARKER).touch()
    except OSError as exc:
        raise StorageNotWritable(
            f"cannot publish {staging} to {layout.dataset_dir}: {write_error(exc)}; nothing was "
            "published and the previous snapshot, if any, is unchanged"
        ) from exc
    return manifest
