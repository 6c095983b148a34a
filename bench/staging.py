"""Staging data written as ETL and validation would leave it, without Spark or GX.

Test and benchmark support only: the gate it writes says "success" without any
validation, so the engine (installed on every worker) keeps no such helper.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.core import (
    MANIFEST,
    SUCCESS_MARKER,
    EtlSummary,
    Layout,
    SegmentEntry,
    SnapshotManifest,
    ValidationGate,
    content_hash,
)


def vocabulary(values: Any) -> list[str]:
    """ETL's vocabulary of a column: Spark's text of each value, most frequent first, ties
    by value."""
    text = values.dropna().astype("string")
    counts = text.value_counts()
    return sorted(counts.index, key=lambda value: (-counts[value], value))


def stage_frame(
    layout: Layout, frame: Any, valid_fraction: float = 0.2, categorical: tuple[str, ...] = ()
) -> None:
    """Write ``frame`` as the ETL job's staging output for ``layout``, marked as validated
    (without validating it: only tests and benchmarks that start at materialize do this).
    ``categorical``: the columns to give a vocabulary, from the train rows."""
    cut = int(len(frame) * (1 - valid_fraction))
    for split, part in (("train", frame.iloc[:cut]), ("valid", frame.iloc[cut:])):
        (layout.staging_dir / split).mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.Table.from_pandas(part, preserve_index=False),
            layout.staging_dir / split / "part-00000.parquet",
        )
    EtlSummary(
        pipeline=layout.pipeline,
        ds=layout.ds,
        source="synthetic",
        source_file_count=0,
        source_files=[],
        rows_read=len(frame),
        quarantined=0,
        quarantine_path=str(layout.quarantine_dir),
        rows={"train": cut, "valid": len(frame) - cut},
        engine="pandas",
        categories={name: {"values": vocabulary(frame[name].iloc[:cut])} for name in categorical},
    ).write(layout.etl_summary_file)
    gate = ValidationGate(success=True, evaluated=0, content_hash=content_hash(layout.staging_dir))
    gate.write(layout.gate_file)


def synthetic_manifest(
    ds: str,
    rows: dict[str, int],
    features: list[str],
    categories: dict[str, dict[str, Any]] | None = None,
    segments: dict[str, SegmentEntry] | None = None,
    digest: str = "",
    pipeline: str = "synthetic",
) -> SnapshotManifest:
    """The manifest of a snapshot that holds what the caller says (nothing is checked)."""
    return SnapshotManifest(
        pipeline=pipeline,
        ds=ds,
        rows=rows,
        segments=segments,
        column_types={},
        features=features,
        categories=categories or {},
        content_hash=digest,
        source="synthetic",
        source_file_count=0,
        source_files=[],
        rows_read=sum(rows.values()),
        quarantined=0,
        engine="pandas",
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def publish_synthetic(
    dataset: Path,
    ds: str,
    rows: dict[str, int],
    features: list[str],
    categories: dict[str, dict[str, Any]] | None = None,
    segments: dict[str, SegmentEntry] | None = None,
    digest: str | None = None,
) -> SnapshotManifest:
    """Mark the files under ``dataset`` published, with a manifest of what the caller says
    they hold (only tests and benchmarks that skip ETL do this); ``digest``: the content
    hash to record, the files' own by default."""
    digest = digest if digest is not None else content_hash(dataset)
    manifest = synthetic_manifest(ds, rows, features, categories, segments, digest)
    manifest.write(dataset / MANIFEST)
    (dataset / SUCCESS_MARKER).write_text("")
    return manifest
