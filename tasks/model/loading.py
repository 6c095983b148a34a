"""Training matrices built straight from a snapshot's Parquet files, one batch at a time.

No pandas copy of a whole split ever exists: XGBoost's ``DataIter`` reads a batch of rows
(``resources.batch_rows``) as an Arrow record batch, encodes it to one float32 array
(categorical codes as :mod:`tasks.model.features` gives them) and hands it over.
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

from tasks.model.features import FeaturePlan, arrow_float32

if TYPE_CHECKING:
    import xgboost as xgb

IN_MEMORY = "in_memory"
EXTERNAL_MEMORY = "external_memory"
MATRIX_MODES = (IN_MEMORY, EXTERNAL_MEMORY)
# Rows per batch read in memory, unless the spec says: smaller batches cost a worker less
# at its peak, and no time at this size (bench/scale.py).
DEFAULT_BATCH_ROWS = 20_000
# On the CPU each batch becomes one external-memory page, and small pages are slow to
# train on: on 10M x 50, pages of 20k rows cost 1.95x the in-memory time per round, of
# 200k rows 1.04x (bench/scale.py). Unless the spec says, a page holds this much float32.
EXTERNAL_PAGE_BYTES = 40 * 2**20


def page_rows(batch_rows: int | None, features: int, mode: str) -> int:
    """Rows per batch read: ``resources.batch_rows`` when the spec sets it, else 20,000 in
    memory and a page of ``EXTERNAL_PAGE_BYTES`` (features and label) in external memory."""
    if batch_rows is not None:
        return batch_rows
    if mode != EXTERNAL_MEMORY:
        return DEFAULT_BATCH_ROWS
    return max(DEFAULT_BATCH_ROWS, EXTERNAL_PAGE_BYTES // (4 * (features + 1)))


# Arrow keeps one read buffer per column: 1 MiB each cost 50 MB more on a 50-column table.
READ_BUFFER_BYTES = 1 << 16


def split_files(split_dir: Path) -> list[Path]:
    """The split's Parquet files in a stable order (Spark names them part-NNNNN-...)."""
    files = sorted(p for p in split_dir.glob("*.parquet") if p.is_file())
    if not files:
        files = sorted(p for p in split_dir.rglob("*.parquet") if p.is_file())
    return files


def parquet_batches(
    files: Sequence[Path], columns: list[str], batch_rows: int, engine: str = "pandas"
) -> Iterator[Any]:
    """Pyarrow record batches of at most ``batch_rows`` rows from ``files``, streamed
    (cudf frames with the ``cudf`` engine)."""
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
                yield batch
                del batch
                # Arrow's allocator keeps freed pages for reuse; over a whole split that
                # is several batches' worth, which a worker cannot spare.
                pool.release_unused()
                release_freed_memory()


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None where the C library has none (macOS, musl)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory() -> None:
    """Hand memory freed on the C heap back to the system. Each batch frees its arrays,
    but glibc keeps the holes they leave between live blocks; over a split that is tens
    of MB that the worker's peak would carry (measured in ``bench/scale.py``)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def row_uniforms(start: int, count: int, seed: int) -> Any:
    """A number in [0, 1) for each row ``start .. start + count - 1`` of a split, from its
    position and ``seed`` alone (splitmix64): the same rows fall in a row sample whatever
    the batch size, the worker or the day's retry, and a sample of fraction ``f`` (the rows
    below ``f``) holds every smaller one."""
    import numpy as np

    with np.errstate(over="ignore"):
        z = np.arange(start, start + count, dtype=np.uint64) + np.uint64(seed)
        z = z * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def split_batches(
    split_dirs: Sequence[Path],
    plan: FeaturePlan,
    target: str,
    batch_rows: int,
    engine: str = "pandas",
    cache_prefix: str | None = None,
    sample: tuple[float, int] | None = None,
) -> Any:
    """XGBoost's data iterator over one or more splits of a snapshot, encoded by ``plan``;
    with ``sample`` (fraction, seed) only the rows of that row sample (see
    :func:`row_uniforms`)."""
    return _split_batches_class()(
        split_dirs, plan, target, batch_rows, engine, cache_prefix, sample
    )


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
            sample: tuple[float, int] | None = None,
        ) -> None:
            self.files = [f for d in split_dirs for f in split_files(Path(d))]
            if not self.files:
                raise FileNotFoundError(f"no Parquet files under {[str(d) for d in split_dirs]}")
            self.plan = plan
            self.target = target
            self.batch_rows = batch_rows
            self.engine = engine
            self.sample = sample
            self.rows = 0  # rows read, before any sample
            self._batches: Iterator[Any] | None = None
            super().__init__(cache_prefix=cache_prefix, release_data=True)

        def reset(self) -> None:
            self._batches = None

        def next(self, input_data: Callable[..., None]) -> bool:
            if self._batches is None:
                self.rows = 0
                columns = [*self.plan.features, self.target]
                self._batches = parquet_batches(self.files, columns, self.batch_rows, self.engine)
            batch = next(self._batches, None)
            if batch is None:
                return False
            if len(batch) == 0:
                return self.next(input_data)
            start, self.rows = self.rows, self.rows + len(batch)
            data, label = encoded_batch(self.plan, batch, self.target, self.engine)
            del batch
            if self.sample is not None:
                data, label = in_row_sample(data, label, start, self.sample)
                if len(label) == 0:
                    return self.next(input_data)
            input_data(
                data=data,
                label=label,
                feature_names=list(self.plan.features),
                feature_types=self.plan.feature_types,
            )
            return True

    return SplitBatches


def in_row_sample(data: Any, label: Any, start: int, sample: tuple[float, int]) -> tuple[Any, Any]:
    """The rows of a batch (its first row the ``start``-th of the split) that are in the
    row sample ``sample`` (fraction, seed); cupy arrays stay on the GPU."""
    fraction, seed = sample
    keep = row_uniforms(start, len(label), seed) < fraction
    if type(data).__module__.startswith("cupy"):
        import cupy

        keep = cupy.asarray(keep)
    return data[keep], label[keep]


def encoded_batch(plan: FeaturePlan, batch: Any, target: str, engine: str) -> tuple[Any, Any]:
    """One batch's features as a float32 array in the model's order, and its label: numpy
    from an Arrow batch, cupy from a cudf frame (on the GPU)."""
    if engine != "cudf":
        return plan.encode_record_batch(batch), arrow_float32(batch.column(target))
    encoded = plan.encode(batch)
    label = batch[target].astype("float32").to_numpy()
    if type(encoded).__module__.startswith("cudf"):
        return encoded.to_cupy(dtype="float32"), label
    return encoded.to_numpy(dtype="float32"), label


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
    # Matrices of nested row samples of the train split (fraction -> matrices): the
    # sample quantised with the train matrix's cuts, and a valid matrix of its own
    # (XGBoost evaluates a QuantileDMatrix only with the one it was built against).
    samples: dict[float, Matrices] = field(default_factory=dict)

    def sample(self, fraction: float) -> Matrices:
        """The matrices of the row sample ``fraction``."""
        return self.samples[fraction]

    def close(self) -> None:
        self.train = self.valid = None  # type: ignore[assignment]
        for sample in self.samples.values():
            sample.close()
        self.samples = {}
        if self.cache_dir is not None:
            shutil.rmtree(self.cache_dir, ignore_errors=True)
            self.cache_dir = None

    def __enter__(self) -> Matrices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class MatrixBuilder:
    """Quantised matrices of a snapshot's splits, in one mode: ``QuantileDMatrix`` in
    memory, ``ExtMemQuantileDMatrix`` with its pages under ``cache_dir``."""

    split_dir: Callable[[str], Path]
    plan: FeaturePlan
    target: str
    mode: str
    batch_rows: int
    engine: str
    cache_dir: Path | None
    nthread: int | None

    def matrix(
        self,
        splits: Sequence[str],
        name: str,
        ref: xgb.DMatrix | None = None,
        sample: tuple[float, int] | None = None,
    ) -> xgb.DMatrix:
        """The matrix of ``splits`` (of the row sample ``sample``), quantised with the
        cuts of ``ref`` when given."""
        import xgboost as xgb

        prefix = str(self.cache_dir / name) if self.cache_dir is not None else None
        dirs = [self.split_dir(split) for split in splits]
        batches = split_batches(
            dirs, self.plan, self.target, self.batch_rows, self.engine, prefix, sample
        )
        kind = xgb.ExtMemQuantileDMatrix if self.mode == EXTERNAL_MEMORY else xgb.QuantileDMatrix
        categorical = bool(self.plan.categories)
        return kind(batches, ref=ref, enable_categorical=categorical, nthread=self.nthread)

    def row_sample(
        self, splits: Sequence[str], fraction: float, seed: int, train: xgb.DMatrix
    ) -> Matrices:
        """The row sample ``fraction`` of the train splits with ``train``'s cuts, and a
        valid matrix of its own."""
        sample = self.matrix(splits, f"train-{fraction:.6f}", ref=train, sample=(fraction, seed))
        valid = self.matrix(["valid"], f"valid-{fraction:.6f}", ref=sample)
        rows = {"train": sample.num_row(), "valid": valid.num_row()}
        return Matrices(sample, valid, self.mode, None, rows)


def build_split_matrices(
    split_dir: Callable[[str], Path],
    plan: FeaturePlan,
    target: str,
    *,
    train_splits: Sequence[str] = ("train",),
    mode: str = IN_MEMORY,
    batch_rows: int | None = None,
    engine: str = "pandas",
    cache_root: str | None = None,
    nthread: int | None = None,
    sample_fractions: Sequence[float] = (),
    sample_seed: int = 0,
) -> Matrices:
    """Train and valid matrices of a snapshot, built batch by batch from its files.

    ``train_splits`` names the splits the model trains on (``("train", "valid")`` for a
    final model on everything); the valid matrix is always the valid split, quantised
    with the train matrix's cuts. ``sample_fractions`` adds a train matrix for each of
    those nested row samples (seeded by ``sample_seed``), with the same cuts.
    """
    if mode not in MATRIX_MODES:
        raise ValueError(f"matrix mode must be one of {MATRIX_MODES}, not {mode!r}")
    cache_dir = None
    if mode == EXTERNAL_MEMORY:
        cache_dir = Path(tempfile.mkdtemp(prefix="retune-xgb-cache-", dir=cache_root))
    try:
        rows = page_rows(batch_rows, len(plan.features), mode)
        build = MatrixBuilder(split_dir, plan, target, mode, rows, engine, cache_dir, nthread)
        train = build.matrix(train_splits, "train")
        valid = build.matrix(["valid"], "valid", ref=train)
        samples = {
            fraction: build.row_sample(train_splits, fraction, sample_seed, train)
            for fraction in sample_fractions
        }
    except BaseException:
        if cache_dir is not None:
            shutil.rmtree(cache_dir, ignore_errors=True)
        raise
    return Matrices(
        train,
        valid,
        mode,
        cache_dir,
        {"train": train.num_row(), "valid": valid.num_row()},
        samples,
    )
