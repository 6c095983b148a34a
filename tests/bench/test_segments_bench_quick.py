"""bench/segments.py --quick: segmented tuning against one run per segment, as JSON lines."""

from __future__ import annotations

from tests.bench import run_bench


def test_quick_segments_benchmark_prints_both_modes_and_reads_each_segment_once() -> None:
    lines, _ = run_bench("segments.py", "--quick")
    segmented, separate, summary = lines
    assert (segmented["mode"], separate["mode"]) == ("segmented", "separate")
    assert segmented["trials"] == 2 + 4 * 3  # the global model's 2, then 3 per segment
    assert (separate["trials"], separate["segments_timed"]) == (2 + 2 * 3, 2)  # 2 timed
    for line in (segmented, separate):
        assert 0 < line["efficiency"] <= 1 and line["training_seconds"] > 0
    # Each worker read a segment once at most, and the two together read every segment.
    assert segmented["max_reads_of_a_segment_per_worker"] == 1
    assert sum(segmented["reads_per_worker"]) >= 5
    assert summary["segmented_wall_seconds"] == segmented["wall_seconds"]
    assert summary["speedup"] == round(separate["wall_seconds"] / segmented["wall_seconds"], 2)
