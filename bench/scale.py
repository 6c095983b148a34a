"""Scale: a worker's memory on large snapshots, in-memory against external-memory trials,
bookkeeping per trial in a large study, and checkpoints of a killed long trial.

Sections (``--sections``, default all), one JSON line per measurement:

``memory``: peak RSS of one fresh worker process that loads a synthetic snapshot of
``rows`` x 50 float columns and builds its training matrices, ``variant`` ``before``
(the whole split read to pandas, kept as float32 frames: the loader before issue 16)
or ``after`` (batches from the Parquet files; ``matrix`` ``in_memory`` or
``external_memory``), as a ratio to the float32 size of the data::

    {"section": "memory", "rows", "features", "variant", "matrix", "float32_mb",
     "baseline_mb", "peak_rss_mb", "peak_over_float32", "added_over_float32",
     "build_seconds"}

``baseline_mb`` is the process with its libraries loaded, before any data;
``added_over_float32`` is (peak - baseline) / float32 size.

``trial_time``: seconds per trial (``--rounds`` rounds, the same parameters) on the
largest snapshot, in memory against external memory, and their ratio::

    {"section": "trial_time", "rows", "matrix", "seconds", "rounds", "ms_per_round"}
    {"section": "trial_time", "rows", "external_over_in_memory"}

``checkpoints``: a ``CHECKPOINT_ROUNDS``-round trial (real XGBoost, slowed to 5 ms a round)
killed by SIGKILL at 75% of its rounds; another worker retries it. Rounds the retry
trains, with a checkpoint every 5% of the rounds and without::

    {"section": "checkpoints", "checkpoints": true|false, "rounds", "killed_at_round",
     "resumed_from_round", "rounds_retrained", "retry_fit_seconds"}

``python -m bench.scale [--rows 2000000,10000000] [--quick] [--sections memory,trial_time]``
"""

from __future__ import annotations

import argparse
import json
import os
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
SECTIONS = ("memory", "trial_time", "checkpoints")
CHECKPOINT_ROUNDS = 2000


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

    from bench.staging import publish_synthetic
    from tasks.core import SUCCESS_MARKER

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
    publish_synthetic(dataset, "2026-01-01", counts, [f"f{i:02d}" for i in range(FEATURES)])
    return dataset


def rss_mb() -> float:
    """Peak RSS of this process since it started (VmHWM: getrusage's ru_maxrss would
    carry over the parent's peak across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


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


def measure_memory(
    dataset: Path, variant: str, matrix: str, batch_rows: int | None
) -> dict[str, Any]:
    """In this (fresh) process: build the matrices once and report the peak RSS."""
    # Imported before the baseline, as a worker has them loaded before any data.
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import xgboost  # noqa: F401

    from tasks.model import build_matrices, load_snapshot

    snapshot = load_snapshot(dataset, snapshot_spec(dataset), verify=False)
    baseline = current_rss_mb()
    started = time.perf_counter()
    if variant == "before":
        built: Any = build_before(snapshot)
    else:
        built = build_matrices(snapshot, matrix, batch_rows=batch_rows)
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
        "batch_rows": rows_read(snapshot, matrix, batch_rows) if variant == "after" else None,
        "float32_mb": round(float32_mb, 1),
        "baseline_mb": round(baseline, 1),
        "peak_rss_mb": round(peak, 1),
        "peak_over_float32": round(peak / float32_mb, 3),
        "added_over_float32": round((peak - baseline) / float32_mb, 3),
        "build_seconds": round(seconds, 2),
    }


def rows_read(snapshot: Any, matrix: str, batch_rows: int | None) -> int:
    """The rows per batch the loader read (its default when ``batch_rows`` is None)."""
    from tasks.model import page_rows

    return page_rows(batch_rows, len(snapshot.features), matrix)


def optional_int(text: str) -> int | None:
    return None if text == "None" else int(text)


def measure_trial(
    dataset: Path, matrix: str, rounds: int, batch_rows: int | None
) -> dict[str, Any]:
    from tasks.model import base_params, build_matrices, fit, load_snapshot

    spec = snapshot_spec(dataset)
    snapshot = load_snapshot(dataset, spec, verify=False)
    with build_matrices(
        snapshot, matrix, batch_rows=batch_rows, nthread=os.cpu_count()
    ) as matrices:
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
        "batch_rows": rows_read(snapshot, matrix, batch_rows),
        "seconds": round(seconds, 2),
        "rounds": rounds,
        "ms_per_round": round(1000 * seconds / rounds, 1),
    }


def checkpoint_spec(dataset: Path, rounds: int, every: int | None) -> dict[str, Any]:
    data = snapshot_spec(dataset).model_dump(by_alias=True, mode="json")
    data["search_space"] = {"max_depth": {"type": "int", "low": 5, "high": 6}}
    data["tuning"].update(
        n_trials=1,
        n_workers=1,
        num_boost_round=rounds,
        early_stopping_rounds=None,
        checkpoint_every_rounds=every,
        checkpoint_every_minutes=None,
        heartbeat_seconds=1,
        warm_start=False,
        pruner={"type": "none"},
    )
    return dict(data)


def checkpoint_worker(
    url: str, spec_data: dict[str, Any], dataset: str, index: int, slow: bool, folder: str
) -> None:
    """One tuning worker (a spawned process): the real loop and fit, optionally slowed."""
    import xgboost as xgb

    from tasks.core import parse_spec
    from tasks.model import fit
    from tasks.tuning import run_worker, study_name, worker_heartbeat, worker_identity
    from tasks.tuning.storage import open_storage

    progress = Path(folder).parent / "progress"

    class Sleep(xgb.callback.TrainingCallback):
        """5 ms more a round, and the rounds done so far in a file the bench watches."""

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if model.num_boosted_rounds() % 10 == 0:
                progress.write_text(str(model.num_boosted_rounds()))
            time.sleep(0.005)
            return False

    def slow_fit(*args: Any, **kwargs: Any) -> Any:
        params, matrices, rounds, stopping, callbacks = args
        return fit(params, matrices, rounds, stopping, [*callbacks, Sleep()], **kwargs)

    spec = parse_spec(spec_data)
    run_worker(
        open_storage(url, worker_heartbeat(spec)),
        {study_name(spec.name, "2026-01-01"): None},
        spec,
        dataset,
        worker_identity(spec, index, 0, 1),
        train=slow_fit if slow else fit,
        checkpoint_dirs={None: Path(folder)},
    )


def measure_checkpoints(root: Path, dataset: Path, rounds: int, with_checkpoints: bool) -> dict:
    """Kill a long trial at 75% of its rounds; how many rounds does its retry train?"""
    import multiprocessing
    import signal

    import optuna

    from tasks.core import parse_spec
    from tasks.tuning import create_study, study_name
    from tasks.tuning.storage import journal_url, open_storage

    every = max(1, rounds // 20)
    data = checkpoint_spec(dataset, rounds, every if with_checkpoints else None)
    data["name"] = f"bench_ckpt_{int(with_checkpoints)}"
    spec = parse_spec(data)
    work = root / data["name"]
    url = journal_url(work / "journal.log")
    create_study(open_storage(url), spec, "2026-01-01")
    folder = work / "checkpoints"
    context = multiprocessing.get_context("spawn")
    victim = context.Process(
        target=checkpoint_worker, args=(url, data, str(dataset), 0, True, str(folder))
    )
    victim.start()
    name = study_name(spec.name, "2026-01-01")
    deadline = time.monotonic() + 600
    progress = work / "progress"
    while _rounds_done(progress) < rounds * 3 // 4:
        if time.monotonic() > deadline or not victim.is_alive():
            raise RuntimeError("the victim trial never reached 75% of its rounds")
        time.sleep(0.01)
    os.kill(victim.pid or 0, signal.SIGKILL)
    victim.join()
    killed_at = _rounds_done(progress)
    checkpoint_worker(url, data, str(dataset), 1, False, str(folder))
    trials = optuna.load_study(study_name=name, storage=open_storage(url)).trials
    retry = trials[-1].user_attrs["retune"]
    resumed = int(retry.get("resumed_from_round", 0))
    return {
        "section": "checkpoints",
        "checkpoints": with_checkpoints,
        "rounds": rounds,
        "checkpoint_every_rounds": every if with_checkpoints else None,
        "killed_at_round": killed_at,
        "resumed_from_round": resumed,
        "rounds_retrained": rounds - resumed,
        "retry_fit_seconds": retry["fit_seconds"],
    }


def _rounds_done(progress: Path) -> int:
    try:
        return int(progress.read_text() or 0)
    except (OSError, ValueError):
        return 0


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
    parser.add_argument(
        "--batch-rows", type=int, help="rows per batch (default: the loader's, per mode)"
    )
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--root", help="where the snapshots are written (default: a temp dir)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for the test suite")
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        kind, dataset, *rest = args.one
        if kind == "memory":
            emit(measure_memory(Path(dataset), rest[0], rest[1], optional_int(rest[2])))
        else:
            emit(measure_trial(Path(dataset), rest[0], int(rest[1]), optional_int(rest[2])))
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
                    line = in_fresh_process(
                        "memory", str(dataset), variant, matrix, str(args.batch_rows)
                    )
                    emit(line)
        if "trial_time" in sections:
            largest = datasets[max(datasets)]
            times = {}
            for matrix in ("in_memory", "external_memory"):
                line = in_fresh_process(
                    "trial", str(largest), matrix, str(rounds), str(args.batch_rows)
                )
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
        if "checkpoints" in sections:
            small = write_snapshot(Path(tmp), 20_000)
            ckpt_rounds = 200 if args.quick else CHECKPOINT_ROUNDS
            for with_checkpoints in (True, False):
                emit(measure_checkpoints(Path(tmp), small, ckpt_rounds, with_checkpoints))


if __name__ == "__main__":
    main()
