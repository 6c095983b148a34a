"""Per-worker seeds, so parallel workers never start from the same points."""

from __future__ import annotations

import hashlib


def worker_seed(base_seed: int, map_index: int, partition: int, attempt: int) -> int:
    """A 31-bit seed derived from (base seed, map index, Spark partition, attempt)."""
    material = f"retune:{base_seed}:{map_index}:{partition}:{attempt}".encode()
    return int.from_bytes(hashlib.sha256(material).digest()[:4], "big") & 0x7FFFFFFF


def study_seed(worker: int, segment: str | None) -> int:
    """A worker's sampler seed on one segment's study: its own seed on the global study,
    a different one on each segment's, so no two segments start from the same points."""
    if segment is None:
        return worker
    material = f"retune:{worker}:segment:{segment}".encode()
    return int.from_bytes(hashlib.sha256(material).digest()[:4], "big") & 0x7FFFFFFF
