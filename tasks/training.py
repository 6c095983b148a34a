"""Load a published snapshot once, then train and score XGBoost models on it."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.content_hash import content_hash
from tasks.errors import RetuneError, SnapshotCorrupt, SnapshotMissing
from tasks.layout import MANIFEST, SUCCESS_MARKER

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import xgboost as xgb

    from tasks.spec import PipelineSpec

OBJECTIVES = {
    "regression": "reg:squarederror",
    "binary": "binary:logistic",
    "multiclass": "multi:softprob",
}


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


@dataclass
class Matrices:
    """XGBoost matrices built once per worker and reused by every trial."""

    train: xgb.DMatrix
    valid: xgb.DMatrix


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
    for split in ("train", "valid"):
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


def training_device(gpu_mode: str, device: str) -> str:
    """The device after checking that the GPU stack can load data: ``auto`` falls back."""
    if device != "cuda" or gpu_loader_available():
        return device
    if gpu_mode == "on":
        raise RetuneError("gpu mode 'on' but cudf is not installed (pip install 'retune[gpu]')")
    return "cpu"


def build_matrices(snapshot: Snapshot) -> Matrices:
    import xgboost as xgb

    train = xgb.QuantileDMatrix(snapshot.x_train, snapshot.y_train, feature_names=snapshot.features)
    valid = xgb.QuantileDMatrix(
        snapshot.x_valid, snapshot.y_valid, ref=train, feature_names=snapshot.features
    )
    return Matrices(train, valid)


def base_params(spec: PipelineSpec, device: str, seed: int, snapshot: Snapshot) -> dict[str, Any]:
    params: dict[str, Any] = {
        "objective": OBJECTIVES[spec.task],
        "eval_metric": spec.metric,
        "tree_method": "hist",
        "device": device,
        "nthread": spec.tuning.nthread,
        "seed": seed,
        "verbosity": 0,
    }
    if spec.task == "multiclass":
        params["num_class"] = (
            int(max(float(snapshot.y_train.max()), float(snapshot.y_valid.max()))) + 1
        )
    return params


def fit(
    params: dict[str, Any],
    matrices: Matrices,
    num_boost_round: int,
    early_stopping_rounds: int | None,
    callbacks: Sequence[xgb.callback.TrainingCallback] = (),
) -> tuple[xgb.Booster, float]:
    """Train; return the booster and its validation metric at the best (or last) round."""
    import xgboost as xgb

    history: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(
        params,
        matrices.train,
        num_boost_round=num_boost_round,
        evals=[(matrices.valid, "valid")],
        early_stopping_rounds=early_stopping_rounds,
        evals_result=history,
        verbose_eval=False,
        callbacks=list(callbacks),
    )
    curve = history["valid"][params["eval_metric"]]
    return booster, float(curve[best_rounds(booster, len(curve)) - 1])


def best_rounds(booster: xgb.Booster, num_boost_round: int) -> int:
    """Boosting rounds up to the best iteration (all rounds without early stopping)."""
    best = booster.attributes().get("best_iteration")
    return int(best) + 1 if best is not None else num_boost_round


def predict_valid(booster: xgb.Booster, snapshot: Snapshot, rounds: int) -> Any:
    import xgboost as xgb

    dvalid = xgb.DMatrix(snapshot.x_valid, feature_names=snapshot.features)
    return booster.predict(dvalid, iteration_range=(0, rounds))


def to_numpy(values: Any) -> np.ndarray:
    import numpy as np

    if hasattr(values, "to_numpy"):
        return np.asarray(values.to_numpy())
    return np.asarray(values)
