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

if TYPE_CHECKING:
    from tasks.core import PipelineSpec


@dataclass
class Snapshot:
    """One published dataset, loaded into memory once per worker.

    Arrays are numpy on the CPU, or cudf/cupy on the GPU (``engine`` says which).
    """

    manifest: dict[str, Any]
    x_train: Any
    y_train: Any
    x_valid: Any
    y_valid: Any
    features: list[str]
    engine: str = "pandas"


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
    features = spec.model_features
    target = spec.data_schema.target
    engine, read = (
        ("cudf", _read_split_cudf) if device == "cuda" else ("pandas", _read_split_pandas)
    )
    arrays = {}
    for split in SPLITS:
        frame = read(dataset_dir / split, [*features, target])
        arrays[split] = (frame[features].astype("float32"), frame[target].astype("float32"))
    return Snapshot(manifest, *arrays["train"], *arrays["valid"], features, engine)


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
