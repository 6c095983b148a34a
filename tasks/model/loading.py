"""Training matrices built straight from a snapshot's Parquet files, one batch at a time.

No pandas copy of a whole split ever exists: XGBoost's ``DataIter`` reads a batch of rows
(``resources.batch_rows``), encodes it (categorical codes, float32) and hands it over.
``in_memory`` mode quantises the batches into a ``QuantileDMatrix`` (about one byte per
value); ``external_memory`` mode gives them to an ``ExtMemQuantileDMatrix`` whose pages
are cached on local disk, so a snapshot larger than a worker's memory can be trained on.
See :mod:`tasks.model.memory` for how the mode is chosen.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.model.features import FeaturePlan

if TYPE_CHECKING:
    import xgboost as xgb

IN_MEMORY = "in_memory"
EXTERNAL_MEMORY = "external_memory"
MATRIX_MODES = (IN_MEMORY, EXTERNAL_MEMORY)
READ_BUFFER_BYTES = 1 << 20


def split_files(split_dir: Path) -> list[Path]:
    """The split's Parquet files in a stable order (Spark names them part-NNNNN-...)."""
    files = sorted(p for p in split_dir.glob("*.parquet") if p.is_file())
    if not files:
        files = sorted(p for p in split_dir.rglob("*.parquet") if p.is_file())
    return files


def parquet_batches(
    files: Sequence[Path], columns: list[str], batch_rows: int, engine: str = "pandas"
) -> Iterator[Any]:
    """Frames of at most ``batch_rows`` rows from ``files``, read one row group at a time."""
    if engine == "cudf":
        import cudf

        for path in files:
            frame = cudf.read_parquet(str(path), columns=columns)
            for start in range(0, len(frame), batch_rows):
                yield frame.iloc[start : start + batch_rows]
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    pool = pa.default_memory_pool()
    for path in files:
        # Streamed page by page, on this thread: a whole row group read at once (and
        # Arrow's decoding threads) would cost several times the batch itself.
        with pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER_BYTES) as parquet:
            for batch in parquet.iter_batches(
                batch_size=batch_rows, columns=columns, use_threads=False
            ):
                frame = batch.to_pandas()
                del batch
                yield frame
                # Arrow's allocator keeps freed pages for reuse; over a whole split that
                # is several batches' worth, which a worker cannot spare.
                pool.release_unused()


def split_batches(
    split_dirs: Sequence[Path],
    plan: FeaturePlan,
    target: str,
    batch_rows: int,
    engine: str = "pandas",
    cache_prefix: str | None = None,
) -> Any:
    """XGBoost's data iterator over one or more splits of a snapshot, encoded by ``plan``."""
    return _split_batches_class()(split_dirs, plan, target, batch_rows, engine, cache_prefix)


@cache
def _split_batches_class() -> type:
    import xgboost as xgb  # only when a matrix is built: importing it takes a while

    class SplitBatches(xgb.DataIter):
        """``next`` converts one batch to float32 codes and numbers and hands it to XGBoost,
        which keeps only its quantised form (and, with a ``cache_prefix``, pages on disk)."""

        def __init__(
            self,
            split_dirs: Sequence[Path],
            plan: FeaturePlan,
            target: str,
            batch_rows: int,
            engine: str = "pandas",
            cache_prefix: str | None = None,
        ) -> None:
            self.files = [f for d in split_dirs for f in split_files(Path(d))]
            if not self.files:
                raise FileNotFoundError(f"no Parquet files under {[str(d) for d in split_dirs]}")
            self.plan = plan
            self.target = target
            self.batch_rows = batch_rows
            self.engine = engine
            self.rows = 0
            self._batches: Iterator[Any] | None = None
            super().__init__(cache_prefix=cache_prefix, release_data=True)

        def reset(self) -> None:
            self._batches = None

        def next(self, input_data: Callable[..., None]) -> bool:
            if self._batches is None:
                self.rows = 0
                columns = [*self.plan.features, self.target]
                self._batches = parquet_batches(self.files, columns, self.batch_rows, self.engine)
            frame = next(self._batches, None)
            if frame is None:
                return False
            if len(frame) == 0:
                return self.next(input_data)
            self.rows += len(frame)
            input_data(
                data=encoded_array(self.plan, frame),
                label=frame[self.target].astype("float32").to_numpy(),
                feature_names=list(self.plan.features),
                feature_types=self.plan.feature_types,
            )
            return True

    return SplitBatches


def encoded_array(plan: FeaturePlan, frame: Any) -> Any:
    """One batch's features as a float32 array (cupy on the GPU) in the model's order."""
    encoded = plan.encode(frame)
    if type(encoded).__module__.startswith("cudf"):
        return encoded.to_cupy(dtype="float32")
    return encoded.to_numpy(dtype="float32")


@dataclass
class Matrices:
    """XGBoost matrices built once per worker and reused by every trial.

    ``mode`` is ``in_memory`` or ``external_memory``; ``cache_dir`` holds the external
    memory's pages on local disk and is removed by :meth:`close`.
    """

    train: xgb.DMatrix
    valid: xgb.DMatrix
    mode: str = IN_MEMORY
    cache_dir: Path | None = None
    rows: dict[str, int] = field(default_factory=dict)

    def close(self) -> None:
        self.train = self.valid = None  # type: ignore[assignment]
        if self.cache_dir is not None:
            shutil.rmtree(self.cache_dir, ignore_errors=True)
            self.cache_dir = None

    def __enter__(self) -> Matrices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_split_matrices(
    dataset_dir: Path,
    plan: FeaturePlan,
    target: str,
    *,
    train_splits: Sequence[str] = ("train",),
    mode: str = IN_MEMORY,
    batch_rows: int = 100_000,
    engine: str = "pandas",
    cache_root: str | None = None,
    nthread: int | None = None,
) -> Matrices:
    """Train and valid matrices of a snapshot, built batch by batch from its files.

    ``train_splits`` names the splits the model trains on (``("train", "valid")`` for a
    final model on everything); the valid matrix is always the valid split, quantised
    with the train matrix's cuts.
    """
    import xgboost as xgb

    if mode not in MATRIX_MODES:
        raise ValueError(f"matrix mode must be one of {MATRIX_MODES}, not {mode!r}")
    categorical = bool(plan.categories)
    cache_dir = None
    if mode == EXTERNAL_MEMORY:
        cache_dir = Path(tempfile.mkdtemp(prefix="retune-xgb-cache-", dir=cache_root))
    try:

        def batches(splits: Sequence[str], name: str) -> Any:
            prefix = str(cache_dir / name) if cache_dir is not None else None
            dirs = [dataset_dir / split for split in splits]
            return split_batches(dirs, plan, target, batch_rows, engine, prefix)

        train_it, valid_it = batches(train_splits, "train"), batches(["valid"], "valid")
        if mode == EXTERNAL_MEMORY:
            train: xgb.DMatrix = xgb.ExtMemQuantileDMatrix(
                train_it, enable_categorical=categorical, nthread=nthread
            )
            valid: xgb.DMatrix = xgb.ExtMemQuantileDMatrix(
                valid_it, ref=train, enable_categorical=categorical, nthread=nthread
            )
        else:
            train = xgb.QuantileDMatrix(train_it, enable_categorical=categorical, nthread=nthread)
            valid = xgb.QuantileDMatrix(
                valid_it, ref=train, enable_categorical=categorical, nthread=nthread
            )
    except BaseException:
        if cache_dir is not None:
            shutil.rmtree(cache_dir, ignore_errors=True)
        raise
    return Matrices(
        train, valid, mode, cache_dir, {"train": train.num_row(), "valid": valid.num_row()}
    )
