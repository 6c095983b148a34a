"""A published snapshot, checked against its manifest and loaded once per worker."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import (
    MANIFEST,
    SEGMENT_COLUMN,
    SUCCESS_MARKER,
    SegmentEntry,
    SnapshotCorrupt,
    SnapshotManifest,
    SnapshotMissing,
    content_hash,
)
from tasks.model.features import FeaturePlan

if TYPE_CHECKING:
    from tasks.core import PipelineSpec


@dataclass
class Snapshot:
    """One published dataset: its manifest, feature plan and files.

    Training matrices are built from the files batch by batch (see
    :mod:`tasks.model.loading`); only the valid split, which metrics and the champion
    need, is read whole, when first asked for. Features are encoded by ``plan``
    (categorical codes, see :mod:`tasks.model.features`); arrays are pandas on the CPU,
    or cudf on the GPU (``engine`` says which).
    """

    manifest: SnapshotManifest
    plan: FeaturePlan
    dataset_dir: Path
    target: str
    engine: str = "pandas"
    # One segment's rows only (see for_segment); None: all rows.
    segment: str | None = None

    @property
    def features(self) -> list[str]:
        return list(self.plan.features)

    def split_dir(self, split: str) -> Path:
        """The folder of ``split``'s files (of the segment's rows only, for a segment)."""
        folder = self.dataset_dir / split
        return folder if self.segment is None else folder / f"{SEGMENT_COLUMN}={self.segment}"

    def for_segment(self, segment: str | None, segment_column: str | None = None) -> Snapshot:
        """The snapshot of one segment's rows (``None``: all rows). A segment's plan leaves
        out ``segment_column``, which is constant there; its manifest's ``rows``,
        ``features`` and ``content_hash`` are the segment's."""
        if segment is None:
            return self
        segments = self.manifest.segments or {}
        entry = segments.get(segment)
        if entry is None:
            raise SnapshotMissing(
                f"snapshot {self.dataset_dir} has no segment {segment!r}; its segments: "
                f"{sorted(segments)}"
            )
        plan = self.plan.without(segment_column) if segment_column else self.plan
        update = {"rows": dict(entry.rows), "features": list(plan.features)}
        if entry.content_hash is not None:
            update["content_hash"] = entry.content_hash
        manifest = self.manifest.model_copy(update=update)
        return replace(self, manifest=manifest, plan=plan, segment=segment)

    @property
    def segment_entry(self) -> SegmentEntry | None:
        """The manifest's entry of this snapshot's segment; None: all rows."""
        if self.segment is None:
            return None
        return (self.manifest.segments or {})[self.segment]

    def read_split(self, split: str, plan: FeaturePlan | None = None) -> tuple[Any, Any]:
        """A whole split: its features encoded by ``plan`` (default: the snapshot's own)
        and its target as float32."""
        plan = plan or self.plan
        read = _read_split_cudf if self.engine == "cudf" else _read_split_pandas
        frame = read(self.split_dir(split), [*plan.features, self.target])
        return plan.encode(frame), frame[self.target].astype("float32")

    @cached_property
    def _valid(self) -> tuple[Any, Any]:
        return self.read_split("valid")

    @property
    def x_valid(self) -> Any:
        return self._valid[0]

    @property
    def y_valid(self) -> Any:
        return self._valid[1]

    @property
    def rows(self) -> dict[str, int]:
        return dict(self.manifest.rows)

    def valid_encoded_by(self, plan: FeaturePlan) -> Any:
        """The valid split's features as another model's ``plan`` encodes them (a champion's
        vocabulary may differ from this snapshot's)."""
        if plan == self.plan:
            return self.x_valid
        return self.read_split("valid", plan)[0]


def read_manifest(dataset_dir: str | Path) -> SnapshotManifest:
    path = Path(dataset_dir) / MANIFEST
    if not path.is_file():
        raise SnapshotMissing(f"no published snapshot: {path} does not exist")
    if not (Path(dataset_dir) / SUCCESS_MARKER).is_file():
        raise SnapshotMissing(
            f"snapshot {dataset_dir} is incomplete (no {SUCCESS_MARKER}); re-run materialize"
        )
    return SnapshotManifest.read(path)


def verify_snapshot(dataset_dir: str | Path) -> SnapshotManifest:
    """The manifest, once the data files are proven to be the ones it describes."""
    manifest = read_manifest(dataset_dir)
    actual = content_hash(Path(dataset_dir))
    if actual != manifest.content_hash:
        raise SnapshotCorrupt(
            f"snapshot {dataset_dir} does not match its manifest: content hash {actual} != "
            f"{manifest.content_hash}; re-run materialize for this ds"
        )
    return manifest


def _read_split_pandas(split_dir: Path, columns: list[str]) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(split_dir, columns=columns).to_pandas()


def _read_split_cudf(split_dir: Path, columns: list[str]) -> Any:
    import cudf

    return cudf.read_parquet(str(split_dir), columns=columns)


def load_snapshot(
    dataset_dir: str | Path,
    spec: PipelineSpec,
    device: str = "cpu",
    verify: bool = True,
    segment: str | None = None,
) -> Snapshot:
    """The published snapshot at ``dataset_dir`` (of one ``segment``'s rows, or all rows),
    read with cudf when training on ``cuda``, with pyarrow otherwise. Nothing but the
    manifest is read yet.

    ``verify`` checks the content hash against the manifest first (a segment's files
    against the segment's hash, not the other segments' files); a mismatch refuses the
    snapshot.
    """
    dataset_dir = Path(dataset_dir)
    whole_verified = verify and segment is None
    manifest = verify_snapshot(dataset_dir) if whole_verified else read_manifest(dataset_dir)
    plan = FeaturePlan.from_manifest(manifest, spec)
    engine = "cudf" if device == "cuda" else "pandas"
    whole = Snapshot(manifest, plan, dataset_dir, spec.data_schema.target, engine)
    if segment is None:
        return whole
    snapshot = whole.for_segment(segment, spec.segment_column)
    if verify:
        expected = (manifest.segments or {})[segment].content_hash
        actual = content_hash(dataset_dir, segment)
        if actual != expected:
            raise SnapshotCorrupt(
                f"segment {segment!r} of snapshot {dataset_dir} does not match its manifest: "
                f"content hash {actual} != {expected}; re-run materialize for this ds"
            )
    return snapshot


def gpu_loader_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("cudf") is not None
