"""Each worker's sampler seed (tasks.tuning.seeds)."""

from __future__ import annotations

from tasks.tuning.seeds import worker_seed


def test_worker_seeds_differ_per_map_index_partition_and_attempt() -> None:
    seeds = {worker_seed(42, m, p, a) for m in range(4) for p in range(4) for a in range(3)}
    assert len(seeds) == 48
    assert worker_seed(42, 1, 2, 3) == worker_seed(42, 1, 2, 3)
    assert all(0 <= s < 2**31 for s in seeds)
