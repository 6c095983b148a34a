"""Segmented tuning: many segments' studies on a few workers, against one run per segment.

    python -m bench.segments [--mysql-url URL] [--segments 50] [--trials 10] [--workers 2]

One synthetic snapshot with ``--segments`` segments (``--rows`` rows each, written as ETL
writes a segmented snapshot: a folder per segment in each split) is tuned twice:

- **segmented**: one run, as Retune runs it: a study per segment and the global one, and
  ``--workers`` worker processes pulling trials across all of them;
- **separate**: the same studies, one run per segment after another, each with its own
  ``--workers`` fresh worker processes (what 50 pipelines would do, without their ETL,
  validation and Spark start-ups, so a lower bound of their cost). The global model's run
  and the first ``--separate-segments`` segments' runs are timed; the segments' part is
  scaled up to all of them (``segments_timed`` says how many were).

It prints a JSON line per mode and repeat: wall time, the trials' training time, the
parallel efficiency (training time / (workers x wall time)), and each worker's snapshot
reads per segment; then a summary line with both modes side by side. Storage: MySQL with
``--mysql-url``, else a journal file. ``--quick`` is a small version for the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

DS = "2026-01-01"
FEATURES = 20
VALID_FRACTION = 0.2


def segmented_spec(dataset: Path, segments: int, trials: int, workers: int, rounds: int) -> Any:
    from tasks.core import parse_spec

    columns = {f"f{i:02d}": {"type": "double"} for i in range(FEATURES)}
    return parse_spec(
        {
            "name": "bench_segments",
            "start_date": "2026-01-01",
            "source": {"format": "parquet", "path": str(dataset / "ds={ds}")},
            "schema": {
                "key": "id",
                "target": "y",
                "columns": {
                    "id": {"type": "long"},
                    "segment": {"type": "string"},
                    **columns,
                    "y": {"type": "double"},
                },
            },
            "task": "regression",
            "metric": "rmse",
            "segments": {
                "column": "segment",
                "min_rows": 1,
                "max_segments": max(segments, 1),
                "n_trials": trials,
            },
            "search_space": {
                "max_depth": {"type": "int", "low": 3, "high": 8},
                "learning_rate": {"type": "float", "low": 0.03, "high": 0.3, "log": True},
                "subsample": {"type": "float", "low": 0.6, "high": 1.0},
            },
            "tuning": {
                "n_trials": workers,  # the global model: a small share of the work
                "n_workers": workers,
                "num_boost_round": rounds,
                "early_stopping_rounds": None,
                "pruner": {"type": "none"},
                "warm_start": False,
                "checkpoint_every_rounds": None,
                "checkpoint_every_minutes": None,
                "seed": 3,
            },
            "gpu": "off",
        }
    )


def write_segmented_snapshot(folder: Path, segments: int, rows: int, seed: int = 0) -> Path:
    """A published-looking segmented snapshot: split/retune_segment=<key>/ Parquet parts, a
    manifest with each segment's rows and content hash, _SUCCESS."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.staging import publish_synthetic
    from tasks.core import SEGMENT_COLUMN, SegmentEntry, content_hash

    dataset = folder / "snapshot"
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {"train": 0, "valid": 0}
    entries: dict[str, SegmentEntry] = {}
    start_id = 0
    for number in range(segments):
        key = f"s{number:03d}"
        weights = rng.normal(size=FEATURES)  # each segment its own relation
        split_rows = {"train": int(rows * (1 - VALID_FRACTION))}
        split_rows["valid"] = rows - split_rows["train"]
        for split, n in split_rows.items():
            x = rng.normal(size=(n, FEATURES))
            y = x @ weights + np.sin(x[:, 0] * 3) + rng.normal(scale=0.5, size=n)
            table = pa.table(
                {
                    "id": np.arange(start_id, start_id + n),
                    "segment": [key] * n,
                    **{f"f{i:02d}": x[:, i] for i in range(FEATURES)},
                    "y": y,
                }
            )
            start_id += n
            out = dataset / split / f"{SEGMENT_COLUMN}={key}"
            out.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, out / "part-00000.parquet")
            counts[split] += n
        entries[key] = SegmentEntry(
            value=key, rows=split_rows, content_hash=content_hash(dataset, key)
        )
    features = ["segment", *(f"f{i:02d}" for i in range(FEATURES))]
    categories = {"segment": {"values": sorted(entries)}}
    publish_synthetic(dataset, DS, counts, features, categories, entries)
    return dataset


def worker(
    url: str,
    data: dict[str, Any],
    studies: dict[str, str | None],
    dataset: str,
    index: int,
    out: str,
) -> None:
    from tasks.core import parse_spec
    from tasks.tuning import run_worker, worker_heartbeat, worker_identity
    from tasks.tuning.storage import open_storage

    spec = parse_spec(data)
    summary = run_worker(
        open_storage(url, worker_heartbeat(spec)),
        studies,
        spec,
        dataset,
        worker_identity(spec, index, 0, 1),
    )
    Path(out).write_text(json.dumps(summary))


def run_workers(
    url: str, data: dict[str, Any], studies: dict[str, str | None], dataset: Path, workers: int
) -> tuple[float, list[dict[str, Any]]]:
    """Wall seconds from the first worker's start to the last one's end, and their summaries."""
    from bench.processes import run_processes

    with tempfile.TemporaryDirectory(prefix="retune-bench-workers-") as tmp:
        outs = [Path(tmp) / f"worker-{i}.json" for i in range(workers)]
        wall = run_processes(
            worker, [(url, data, studies, str(dataset), i, str(outs[i])) for i in range(workers)]
        )
        return wall, [json.loads(out.read_text()) for out in outs]


def training_seconds(url: str, names: list[str]) -> tuple[float, int]:
    """The trials' training time (their fit_seconds) and finished trials, over ``names``."""
    import optuna

    from tasks.tuning import trial_record
    from tasks.tuning.storage import open_storage

    storage = open_storage(url)
    busy, finished = 0.0, 0
    for name in names:
        for trial in optuna.load_study(study_name=name, storage=storage).get_trials():
            busy += float(trial_record(trial).get("fit_seconds", 0.0))
            finished += trial.state.is_finished()
    return busy, finished


def scaled_busy(url: str, studies: dict[str, str | None], plan: Any, busy: float) -> float:
    """The training time of all the segments' runs, from the measured ones."""
    global_name = next(name for name, segment in studies.items() if segment is None)
    global_busy, _ = training_seconds(url, [global_name])
    measured = len(studies) - 1
    return global_busy + (busy - global_busy) * len(plan.tuned) / max(1, measured)


def one_repeat(
    url: str, dataset: Path, args: argparse.Namespace, repeat: int
) -> list[dict[str, Any]]:
    from tasks.core import parse_spec
    from tasks.model import SegmentPlan, plan_segments, read_manifest
    from tasks.tuning import create_study, run_studies
    from tasks.tuning.storage import open_storage

    lines = []
    data = segmented_spec(
        dataset, args.segments, args.trials, args.workers, args.rounds
    ).model_dump(by_alias=True, mode="json")
    data["tuning"]["seed"] = repeat
    for mode in ("segmented", "separate"):
        data["name"] = f"bench_{mode}_{repeat}_{os.getpid()}"
        spec = parse_spec(data)
        manifest = read_manifest(dataset)
        plan = plan_segments(spec, manifest)
        storage = open_storage(url)
        studies = run_studies(spec, DS, manifest)
        if mode == "segmented":
            create_study(storage, spec, DS, plan=plan)
            wall, summaries = run_workers(url, data, studies, dataset, args.workers)
            reads = [s["snapshot_reads"] for s in summaries]
        else:
            wall, reads = 0.0, []
            # One run per segment takes long: time the first ``--separate-segments`` of
            # them (and the global model) and scale the segments' part up to all.
            sample = dict(list(studies.items())[: args.separate_segments + 1])
            global_name = next(iter(studies))
            segment_wall = 0.0
            for name, segment in sample.items():
                # The global study, and this segment's alone (the global one is there).
                tuned = {} if segment is None else {segment: plan.tuned[segment]}
                create_study(storage, spec, DS, plan=SegmentPlan(plan.global_trials, tuned))
                seconds, summaries = run_workers(url, data, {name: segment}, dataset, args.workers)
                if name == global_name:
                    wall += seconds
                else:
                    segment_wall += seconds
                reads.extend(s["snapshot_reads"] for s in summaries)
            measured = len(sample) - 1
            wall += segment_wall * (len(studies) - 1) / max(1, measured)
            studies = sample
        busy, finished = training_seconds(url, list(studies))
        expected = plan.global_trials + sum(plan.tuned[s] for s in studies.values() if s)
        assert finished == expected, (finished, expected)
        if mode == "separate":  # the measured runs' training time, scaled like the wall
            busy = scaled_busy(url, studies, plan, busy)
        most_reads = max((n for r in reads for n in r.values()), default=0)
        line = {
            "section": "segments",
            "mode": mode,
            "repeat": repeat,
            "segments": args.segments,
            "trials_per_segment": args.trials,
            "rows_per_segment": args.rows,
            "workers": args.workers,
            "trials": finished,
            "segments_timed": len(studies) - 1,
            "wall_seconds": round(wall, 2),
            "training_seconds": round(busy, 2),
            "efficiency": round(busy / (args.workers * wall), 3),
            "max_reads_of_a_segment_per_worker": most_reads,
        }
        if mode == "segmented":
            line["reads_per_worker"] = [sum(r.values()) for r in reads]
        print(json.dumps(line), flush=True)
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.segments")
    parser.add_argument("--mysql-url", default=os.environ.get("RETUNE_BENCH_MYSQL_URL"))
    parser.add_argument("--segments", type=int, default=50)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--separate-segments",
        type=int,
        default=10,
        help="separate mode: time this many segments' runs, scaled up to all",
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    from tasks.tuning.storage import journal_url

    if args.quick:
        args.segments, args.trials, args.rows, args.rounds, args.repeats = 4, 3, 400, 20, 1
        args.separate_segments = 2
    with tempfile.TemporaryDirectory(prefix="retune-bench-segments-") as tmp:
        url = args.mysql_url or journal_url(Path(tmp) / "journal.log")
        dataset = write_segmented_snapshot(Path(tmp), args.segments, args.rows)
        lines = [line for r in range(args.repeats) for line in one_repeat(url, dataset, args, r)]
    by_mode = {
        mode: [line for line in lines if line["mode"] == mode] for mode in ("segmented", "separate")
    }
    summary: dict[str, Any] = {"section": "segments_summary", "repeats": args.repeats}
    for mode, chosen in by_mode.items():
        summary[f"{mode}_wall_seconds"] = round(
            statistics.median(x["wall_seconds"] for x in chosen), 2
        )
        summary[f"{mode}_efficiency"] = round(statistics.median(x["efficiency"] for x in chosen), 3)
    summary["speedup"] = round(
        summary["separate_wall_seconds"] / summary["segmented_wall_seconds"], 2
    )
    summary["max_reads_of_a_segment_per_worker"] = max(
        x["max_reads_of_a_segment_per_worker"] for x in by_mode["segmented"]
    )
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
