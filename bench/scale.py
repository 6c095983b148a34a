"""Scale: a worker's memory on large snapshots, in-memory against external-memory trials,
bookkeeping per trial in a large study, and checkpoints of a killed long trial.

Sections (``--sections``, default all), one JSON line per measurement:

``memory``: peak RSS of one fresh worker process that loads a synthetic snapshot of
``rows`` x 50 float columns and builds its training matrices, ``variant`` ``before``
(the whole split read to pandas, kept as float32 frames: the loader before issue 16)
or ``after`` (batches from the Parquet files; ``matrix`` ``in_memory`` or
``external_memory``), as a ratio to the float32 size of the data::

    {"section": "memory", "rows", "features", "variant", "matrix", "float32_mb",
     "baseline_mb", "peak_rss_mb", "peak_over_float32", "build_seconds"}

``trial_time``: seconds per trial (``--rounds`` rounds, the same parameters) on the
largest snapshot, in memory against external memory, and their ratio::

    {"section": "trial_time", "rows", "matrix", "seconds", "rounds", "ms_per_round"}
    {"section": "trial_time", "rows", "external_over_in_memory"}

``python -m bench.scale [--rows 2000000,10000000] [--quick] [--sections memory,trial_time]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tasks.data import ROW_GROUP_BYTES

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 50
ROWS_PER_FILE = 500_000
VALID_FRACTION = 0.2
SECTIONS = ("memory", "trial_time")


def snapshot_spec(dataset: Path) -> Any:
    from tasks.core import parse_spec

    columns = {f"f{i:02d}": {"type": "double"} for i in range(FEATURES)}
    return parse_spec(
        {
            "name": "bench_scale",
            "start_date": "2026-01-01",
            "source": {"format": "parquet", "path": str(dataset / "ds={ds}")},
            "schema": {
                "key": "id",
                "target": "y",
                "columns": {"id": {"type": "long"}, **columns, "y": {"type": "double"}},
            },
            "task": "regression",
            "metric": "rmse",
            "search_space": {"max_depth": {"type": "int", "low": 3, "high": 8}},
        }
    )


def write_snapshot(folder: Path, rows: int, seed: int = 0) -> Path:
    """A published-looking snapshot (train/valid Parquet parts, manifest, _SUCCESS)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tasks.core import MANIFEST, SUCCESS_MARKER

    dataset = folder / f"rows-{rows}"
    if (dataset / SUCCESS_MARKER).is_file():
        return dataset
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=FEATURES)
    counts = {"train": int(rows * (1 - VALID_FRACTION))}
    counts["valid"] = rows - counts["train"]
    for split, n in counts.items():
        (dataset / split).mkdir(parents=True, exist_ok=True)
        for part, start in enumerate(range(0, n, ROWS_PER_FILE)):
            size = min(ROWS_PER_FILE, n - start)
            x = rng.normal(size=(size, FEATURES))
            y = x @ weights + np.sin(x[:, 0] * 3) + rng.normal(scale=0.5, size=size)
            table = pa.table({**{f"f{i:02d}": x[:, i] for i in range(FEATURES)}, "y": y})
            pq.write_table(
                table,
                dataset / split / f"part-{part:05d}.parquet",
                row_group_size=ROW_GROUP_BYTES // ((FEATURES + 1) * 8),  # as ETL writes them
            )
    manifest = {
        "ds": "2026-01-01",
        "rows": counts,
        "features": [f"f{i:02d}" for i in range(FEATURES)],
        "categories": {},
        "content_hash": "bench",
    }
    (dataset / MANIFEST).write_text(json.dumps(manifest))
    (dataset / SUCCESS_MARKER).write_text("")
    return dataset


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def build_before(snapshot: Any) -> tuple[Any, Any]:
    """The loader before issue 16: both splits read whole to pandas, kept as float32 frames."""
    import pyarrow.parquet as pq
    import xgboost as xgb

    from tasks.model import matrix_args

    kept = []
    for split in ("train", "valid"):
        frame = pq.read_table(
            snapshot.dataset_dir / split, columns=[*snapshot.features, snapshot.target]
        ).to_pandas()
        kept.append((snapshot.plan.encode(frame), frame[snapshot.target].astype("float32")))
    train = xgb.QuantileDMatrix(*kept[0], **matrix_args(snapshot.plan))
    valid = xgb.QuantileDMatrix(*kept[1], ref=train, **matrix_args(snapshot.plan))
    return (train, valid), kept


def measure_memory(dataset: Path, variant: str, matrix: str) -> dict[str, Any]:
    """In this (fresh) process: build the matrices once and report the peak RSS."""
    import xgboost  # noqa: F401  (imported before the baseline, as a worker has it)

    from tasks.model import build_matrices, load_snapshot

    snapshot = load_snapshot(dataset, snapshot_spec(dataset), verify=False)
    baseline = current_rss_mb()
    started = time.perf_counter()
    if variant == "before":
        built: Any = build_before(snapshot)
    else:
        built = build_matrices(snapshot, matrix)
    seconds = time.perf_counter() - started
    rows = sum(snapshot.rows.values())
    float32_mb = rows * (FEATURES + 1) * 4 / 2**20
    peak = rss_mb()
    del built
    return {
        "section": "memory",
        "rows": rows,
        "features": FEATURES,
        "variant": variant,
        "matrix": matrix,
        "float32_mb": round(float32_mb, 1),
        "baseline_mb": round(baseline, 1),
        "peak_rss_mb": round(peak, 1),
        "peak_over_float32": round(peak / float32_mb, 3),
        "build_seconds": round(seconds, 2),
    }


def measure_trial(dataset: Path, matrix: str, rounds: int) -> dict[str, Any]:
    from tasks.model import base_params, build_matrices, fit, load_snapshot

    spec = snapshot_spec(dataset)
    snapshot = load_snapshot(dataset, spec, verify=False)
    with build_matrices(snapshot, matrix, nthread=os.cpu_count()) as matrices:
        params = {
            **base_params(spec, "cpu", 0, snapshot),
            "nthread": os.cpu_count(),
            "max_depth": 6,
            "learning_rate": 0.1,
        }
        started = time.perf_counter()
        fit(params, matrices, rounds, None)
        seconds = time.perf_counter() - started
    return {
        "section": "trial_time",
        "rows": sum(snapshot.rows.values()),
        "matrix": matrix,
        "seconds": round(seconds, 2),
        "rounds": rounds,
        "ms_per_round": round(1000 * seconds / rounds, 1),
    }


def in_fresh_process(*args: str) -> dict[str, Any]:
    """One measurement in a new interpreter, so each peak RSS starts from nothing."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--one", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.scale --one {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.scale")
    parser.add_argument("--rows", default="2000000,10000000")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--root", help="where the snapshots are written (default: a temp dir)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for the test suite")
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        kind, dataset, *rest = args.one
        if kind == "memory":
            emit(measure_memory(Path(dataset), rest[0], rest[1]))
        else:
            emit(measure_trial(Path(dataset), rest[0], int(rest[1])))
        return
    rows = [200_000] if args.quick else [int(r) for r in args.rows.split(",")]
    rounds = 5 if args.quick else args.rounds
    sections = args.sections.split(",")
    with tempfile.TemporaryDirectory(prefix="retune-bench-scale-", dir=args.root) as tmp:
        datasets = {n: write_snapshot(Path(tmp), n) for n in rows}
        if "memory" in sections:
            for dataset in datasets.values():
                for variant, matrix in (
                    ("before", "in_memory"),
                    ("after", "in_memory"),
                    ("after", "external_memory"),
                ):
                    emit(in_fresh_process("memory", str(dataset), variant, matrix))
        if "trial_time" in sections:
            largest = datasets[max(datasets)]
            times = {}
            for matrix in ("in_memory", "external_memory"):
                line = in_fresh_process("trial", str(largest), matrix, str(rounds))
                times[matrix] = line["seconds"]
                emit(line)
            emit(
                {
                    "section": "trial_time",
                    "rows": max(datasets),
                    "external_over_in_memory": round(
                        times["external_memory"] / times["in_memory"], 2
                    ),
                }
            )


if __name__ == "__main__":
    main()
