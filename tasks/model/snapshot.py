"""A published snapshot, checked against its manifest and loaded once per worker."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import (
    MANIFEST,
    SPLITS,
    SUCCESS_MARKER,
    SnapshotCorrupt,
    SnapshotMissing,
    content_hash,
)
from tasks.model.features import FeaturePlan

if TYPE_CHECKING:
    from tasks.core import PipelineSpec


@dataclass
class Snapshot:
    """One published dataset, loaded into memory once per worker.

    Features are encoded by ``plan`` (categorical codes, see :mod:`tasks.model.features`).
    Arrays are pandas on the CPU, or cudf on the GPU (``engine`` says which).
    """

    manifest: dict[str, Any]
    x_train: Any
    y_train: Any
    x_valid: Any
    y_valid: Any
    plan: FeaturePlan
    dataset_dir: Path
    engine: str = "pandas"

    @property
    def features(self) -> list[str]:
        return list(self.plan.features)

    def valid_encoded_by(self, plan: FeaturePlan) -> Any:
        """The valid split's features as another model's ``plan`` encodes them (a champion's
        vocabulary may differ from this snapshot's)."""
        if plan == self.plan:
            return self.x_valid
        read = _read_split_cudf if self.engine == "cudf" else _read_split_pandas
        return plan.encode(read(self.dataset_dir / "valid", list(plan.features)))


def read_manifest(dataset_dir: str | Path) -> dict[str, Any]:
    path = Path(dataset_dir) / MANIFEST
    if not path.is_file():
        raise SnapshotMissing(f"no published snapshot: {path} does not exist")
    if not (Path(dataset_dir) / SUCCESS_MARKER).is_file():
        raise SnapshotMissing(
            f"snapshot {dataset_dir} is incomplete (no {SUCCESS_MARKER}); re-run materialize"
        )
    return dict(json.loads(path.read_text()))


def verify_snapshot(dataset_dir: str | Path) -> dict[str, Any]:
    """The manifest, once the data files are proven to be the ones it describes."""
    manifest = read_manifest(dataset_dir)
    actual = content_hash(Path(dataset_dir))
    if actual != manifest.get("content_hash"):
        raise SnapshotCorrupt(
            f"snapshot {dataset_dir} does not match its manifest: content hash {actual} != "
            f"{manifest.get('content_hash')}; re-run materialize for this ds"
        )
    return manifest


def _read_split_pandas(split_dir: Path, columns: list[str]) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(split_dir, columns=columns).to_pandas()


def _read_split_cudf(split_dir: Path, columns: list[str]) -> Any:
    import cudf

    return cudf.read_parquet(str(split_dir), columns=columns)


def load_snapshot(
    dataset_dir: str | Path, spec: PipelineSpec, device: str = "cpu", verify: bool = True
) -> Snapshot:
    """Read both splits once: with cudf when training on ``cuda``, with pyarrow otherwise.

    ``verify`` checks the content hash against the manifest first; a mismatch refuses
    the snapshot.
    """
    dataset_dir = Path(dataset_dir)
    manifest = verify_snapshot(dataset_dir) if verify else read_manifest(dataset_dir)
    plan = FeaturePlan.from_manifest(manifest, spec)
    target = spec.data_schema.target
    engine, read = (
        ("cudf", _read_split_cudf) if device == "cuda" else ("pandas", _read_split_pandas)
    )
    arrays = {}
    for split in SPLITS:
        frame = read(dataset_dir / split, [*plan.features, target])
        arrays[split] = (plan.encode(frame), frame[target].astype("float32"))
    return Snapshot(manifest, *arrays["train"], *arrays["valid"], plan, dataset_dir, engine)


def with_valid_in_train(snapshot: Snapshot) -> Snapshot:
    """The snapshot with the valid rows appended to train (valid itself unchanged)."""
    if snapshot.engine == "cudf":
        from cudf import concat
    else:
        from pandas import concat
    return replace(
        snapshot,
        x_train=concat([snapshot.x_train, snapshot.x_valid], ignore_index=True),
        y_train=concat([snapshot.y_train, snapshot.y_valid], ignore_index=True),
    )


def gpu_loader_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("cudf") is not None
