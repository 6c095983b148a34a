"""bench/scale.py --quick: memory of both loaders, both matrix modes, a killed long trial."""

from __future__ import annotations

from tests.bench import run_bench


def test_quick_scale_benchmark_prints_memory_trial_time_and_checkpoint_lines() -> None:
    lines, _ = run_bench("scale.py", "--quick")
    memory = {(x["variant"], x["matrix"]): x for x in lines if x["section"] == "memory"}
    assert set(memory) == {
        ("before", "in_memory"),
        ("after", "in_memory"),
        ("after", "external_memory"),
    }
    for line in memory.values():
        assert line["rows"] == 200_000 and line["peak_rss_mb"] > line["baseline_mb"] > 0
    # The whole split read to pandas costs more than batches, even on a small table.
    before, after = memory["before", "in_memory"], memory["after", "in_memory"]
    assert after["added_over_float32"] < before["added_over_float32"]
    # External memory reads page-sized batches (40 MiB of float32: 205,603 rows of 51).
    assert after["batch_rows"] == 20_000
    assert memory["after", "external_memory"]["batch_rows"] == 40 * 2**20 // (4 * 51)

    times = [x for x in lines if x["section"] == "trial_time"]
    assert [x.get("matrix") for x in times] == ["in_memory", "external_memory", None]
    assert times[-1]["external_over_in_memory"] > 0

    kept, lost = [x for x in lines if x["section"] == "checkpoints"]
    assert kept["checkpoints"] is True and lost["checkpoints"] is False
    # The kill lands within a checkpoint interval of the last checkpoint.
    every = kept["checkpoint_every_rounds"]
    assert kept["killed_at_round"] >= kept["rounds"] * 3 // 4
    assert abs(kept["resumed_from_round"] - kept["killed_at_round"]) <= every
    assert kept["resumed_from_round"] > 0 and kept["resumed_from_round"] % every == 0
    assert kept["rounds_retrained"] == kept["rounds"] - kept["resumed_from_round"]
    assert lost["resumed_from_round"] == 0 and lost["rounds_retrained"] == lost["rounds"]
