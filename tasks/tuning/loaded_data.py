"""The matrices a worker holds: one segment's (or all rows') each, kept while memory allows.

A worker that pulls trials across several segments' studies builds a segment's matrices
the first time it claims one of its trials, and keeps them for the next: the claim
prefers the segments a worker holds. The matrices held are bounded by the worker's
memory budget (the estimate of :func:`tasks.model.plan_memory`); the least recently used
are closed first to make room.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tasks.model import build_matrices, load_snapshot, plan_memory

if TYPE_CHECKING:
    from tasks.core import PipelineSpec
    from tasks.model import Matrices, MemoryPlan, Snapshot

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    snapshot: Snapshot
    matrices: Matrices
    memory: MemoryPlan


@dataclass
class LoadedData:
    """The segments' matrices a worker holds (key ``None``: all rows), least recently used
    first; ``reads`` counts how often each segment was read from the snapshot."""

    dataset_dir: str
    spec: PipelineSpec
    device: str
    budget_bytes: int
    held: OrderedDict[str | None, Loaded] = field(default_factory=OrderedDict)
    reads: dict[str, int] = field(default_factory=dict)
    modes: set[str] = field(default_factory=set)

    @property
    def held_bytes(self) -> int:
        return sum(loaded.memory.data_bytes for loaded in self.held.values())

    def get(self, segment: str | None) -> Loaded:
        """The segment's snapshot and matrices, built now if not held."""
        if segment in self.held:
            self.held.move_to_end(segment)
            return self.held[segment]
        snapshot = load_snapshot(self.dataset_dir, self.spec, self.device, segment=segment)
        memory = plan_memory(snapshot.manifest, self.spec)
        while self.held and self.held_bytes + memory.data_bytes > self.budget_bytes:
            dropped, old = self.held.popitem(last=False)
            log.info("dropping the matrices of %s to make room", dropped or "all rows")
            old.matrices.close()
        matrices = build_matrices(
            snapshot,
            memory.matrix,
            batch_rows=memory.batch_rows,
            cache_root=self.spec.resources.external_memory_dir,
            nthread=self.spec.tuning.nthread,
            sample_fractions=self.spec.tuning.fidelity.fractions(snapshot.rows["train"]),
            sample_seed=self.spec.tuning.seed,
        )
        key = segment or ""
        self.reads[key] = self.reads.get(key, 0) + 1
        self.modes.add(memory.matrix)
        self.held[segment] = Loaded(snapshot, matrices, memory)
        return self.held[segment]

    def close(self) -> None:
        while self.held:
            self.held.popitem()[1].matrices.close()
