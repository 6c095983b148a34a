"""How much memory a worker needs for a snapshot, and whether it trains in external memory.

The figures are estimates from the manifest (rows, features), calibrated by
``bench/scale.py`` (see docs/benchmarks.md): a worker process with its libraries loaded,
XGBoost's quantised matrices (the bin index and its column copy, about 2 bytes a value,
3 here for safety), per-row training state (label, gradients, predictions, row sets) and
the batches being read. In external memory the quantised pages live on local disk, so
only the per-row state and the batches stay. The same function runs on the driver (what
spark-submit asks for) and in the worker (which matrix to build), so both agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasks.core import SnapshotTooLarge
from tasks.model.loading import EXTERNAL_MEMORY, IN_MEMORY, page_rows

if TYPE_CHECKING:
    from tasks.core import PipelineSpec, SnapshotManifest

MIB = 2**20
GIB = 2**30
# Python, XGBoost, Arrow, pandas, Optuna and PySpark's worker, before any data.
WORKER_BASE_BYTES = 400 * MIB
IN_MEMORY_BYTES_PER_VALUE = 3
# label, gradient pair, prediction per class, row partition, weights: per row.
ROW_STATE_BYTES = 48
# A batch in flight, per value: Arrow's pages and float64 batch, the float32 array,
# XGBoost's copy; three of them (the one read, the one handed over, XGBoost's page).
BATCH_BYTES_PER_VALUE = 24
BATCHES_IN_FLIGHT = 3
# The executor's JVM beside the Python worker.
EXECUTOR_JVM_MIB = 512


@dataclass(frozen=True)
class MemoryPlan:
    """The matrix mode and memory of one worker, with the figures behind them."""

    matrix: str
    rows: int
    features: int
    in_memory_bytes: int
    external_memory_bytes: int
    budget_bytes: int
    budget_from: str
    batch_rows: int  # rows per batch read, for the mode chosen

    @property
    def need_bytes(self) -> int:
        return self.in_memory_bytes if self.matrix == IN_MEMORY else self.external_memory_bytes

    @property
    def data_bytes(self) -> int:
        """What the snapshot's matrices and batches take, beyond the worker's own base."""
        return max(0, self.need_bytes - WORKER_BASE_BYTES)

    @property
    def data_budget_bytes(self) -> int:
        """What a worker given :attr:`worker_mib` may hold in matrices and batches."""
        return max(0, self.worker_mib * MIB - WORKER_BASE_BYTES)

    @property
    def worker_mib(self) -> int:
        """What one worker asks for: its budget when the spec sets one, else its need."""
        wanted = self.budget_bytes if self.budget_from == "resources.worker_memory_gb" else 0
        return -(-max(self.need_bytes, wanted) // MIB)

    @property
    def executor_memory(self) -> str:
        """``spark.executor.memory`` of an executor that holds one worker."""
        return f"{self.worker_mib + EXECUTOR_JVM_MIB}m"

    def as_record(self) -> dict[str, Any]:
        return {
            "matrix": self.matrix,
            "batch_rows": self.batch_rows,
            "estimated_mib": -(-self.need_bytes // MIB),
            "budget_mib": self.budget_bytes // MIB,
            "budget_from": self.budget_from,
        }


def gib(value: int) -> str:
    return f"{value / GIB:.2f} GiB"


def plan_memory(
    manifest: SnapshotManifest, spec: PipelineSpec, row_samples: bool = True
) -> MemoryPlan:
    """The mode and memory of a worker training on the snapshot of ``manifest``; with
    ``row_samples`` (a tuning worker) also the train matrices of the fidelity rungs'
    row samples (:meth:`tasks.core.FidelitySpec.fractions`).

    Raises :class:`SnapshotTooLarge` (with the figures) when the snapshot does not fit
    the largest worker allowed in the mode the spec permits.
    """
    resources = spec.resources
    rows = sum(manifest.rows.values())
    features = len(manifest.features or spec.model_features)
    classes = spec.num_class if spec.task == "multiclass" else 1

    batch_row_bytes = (features + 1) * BATCH_BYTES_PER_VALUE * BATCHES_IN_FLIGHT
    in_rows = page_rows(resources.batch_rows, features, IN_MEMORY)
    ext_rows = page_rows(resources.batch_rows, features, EXTERNAL_MEMORY)
    row_state = rows * ROW_STATE_BYTES * classes
    train_rows = manifest.rows.get("train", rows)
    # Each rung's row sample, and a valid matrix of its own beside it.
    fractions = spec.tuning.fidelity.fractions(train_rows) if row_samples else ()
    sampled = sum(fractions) * train_rows + len(fractions) * (rows - train_rows)
    matrix_bytes = int((rows + sampled) * features * IN_MEMORY_BYTES_PER_VALUE)
    in_memory = WORKER_BASE_BYTES + matrix_bytes + row_state + min(in_rows, rows) * batch_row_bytes
    budget, budget_from = worker_budget(spec)
    ext_fixed = WORKER_BASE_BYTES + row_state
    if resources.batch_rows is None and ext_fixed + min(ext_rows, rows) * batch_row_bytes > budget:
        # Smaller pages where the default's do not fit: slower rounds, but it trains.
        ext_rows = max(in_rows, (budget - ext_fixed) // batch_row_bytes)
    external = ext_fixed + min(ext_rows, rows) * batch_row_bytes
    mode = resources.external_memory
    matrix = EXTERNAL_MEMORY if mode == "always" else IN_MEMORY
    if mode == "auto" and in_memory > budget:
        matrix = EXTERNAL_MEMORY
    plan = MemoryPlan(
        matrix,
        rows,
        features,
        in_memory,
        external,
        budget,
        budget_from,
        in_rows if matrix == IN_MEMORY else ext_rows,
    )
    if plan.need_bytes > budget:
        raise too_large(spec, manifest, plan)
    return plan


def worker_budget(spec: PipelineSpec) -> tuple[int, str]:
    """The bytes a worker may use, and the spec field that says so."""
    resources = spec.resources
    if resources.worker_memory_gb is not None:
        return int(resources.worker_memory_gb * GIB), "resources.worker_memory_gb"
    return int(resources.max_worker_memory_gb * GIB), "resources.max_worker_memory_gb"


def too_large(spec: PipelineSpec, manifest: SnapshotManifest, plan: MemoryPlan) -> SnapshotTooLarge:
    """The error of a snapshot whose plan does not fit the budget, with its figures."""
    hint = (
        "set resources.external_memory: auto, or raise "
        if spec.resources.external_memory == "never"
        else "fewer rows per batch (resources.batch_rows) or raise "
    )
    return SnapshotTooLarge(
        f"{spec.name} ds={manifest.ds}: the snapshot ({plan.rows} rows x "
        f"{plan.features} features) needs about {gib(plan.need_bytes)} per worker in "
        f"{plan.matrix} mode (in memory: {gib(plan.in_memory_bytes)}, external memory: "
        f"{gib(plan.external_memory_bytes)}), more than {plan.budget_from} = "
        f"{gib(plan.budget_bytes)}; {hint}{plan.budget_from}"
    )
