"""Bookkeeping per trial in one large study: ``--workers`` worker processes on MySQL run
``--trials`` trials whose fit costs nothing, through the real worker loop (claim, suggest
with the spec's sampler, heartbeat, record, tell).

A trial's bookkeeping is the time its worker spent between the end of its previous fit
and the start of this one (from the ``fit_started`` and ``fit_seconds`` each trial
records); ``cpu_ms`` is the CPU time the worker process used in that gap (what it costs
where each worker has a core of its own: with more workers than cores, the wall time
also holds the wait for a core). One JSON line per checkpoint trial number (medians and
the 90th percentile over the ``--window`` trials up to it), one line on the reads a
worker makes with the whole budget waiting and with none, then one for the whole run::

    {"section": "study", "sampler", "history", "workers", "at_trial", "per_trial_ms",
     "p90_ms", "cpu_ms"}
    {"section": "reads", "waiting", "read_study_ms", "look_for_waiting_ms"} (twice; with
     none waiting, the look is the one a worker makes before it says none is left)
    {"section": "study", "sampler", "history", "workers", "trials", "create_seconds",
     "wall_seconds", "trials_per_second", "claims_lost", "per_trial_ms_at_<n>" and
     "cpu_ms_at_<n>" for each checkpoint}

    python -m bench.study_scale --mysql-url mysql+pymysql://u:pw@127.0.0.1/db \
        [--trials 5000] [--workers 8] [--sampler tpe] [--history 1000|null] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from itertools import pairwise
from pathlib import Path
from typing import Any

DS = "2026-01-01"


def study_spec(
    dataset: Path, trials: int, workers: int, sampler: str, history: str | None = None
) -> dict[str, Any]:
    from bench.scale import snapshot_spec

    data = snapshot_spec(dataset).model_dump(by_alias=True, mode="json")
    data["name"] = f"bench_study_{uuid.uuid4().hex[:8]}"
    data["search_space"] = {
        "max_depth": {"type": "int", "low": 2, "high": 12},
        "learning_rate": {"type": "float", "low": 0.005, "high": 0.5, "log": True},
        "subsample": {"type": "float", "low": 0.4, "high": 1.0},
        "colsample_bytree": {"type": "float", "low": 0.4, "high": 1.0},
        "min_child_weight": {"type": "float", "low": 0.1, "high": 20, "log": True},
        "reg_lambda": {"type": "float", "low": 0.001, "high": 10, "log": True},
    }
    data["tuning"].update(
        n_trials=trials,
        n_workers=workers,
        num_boost_round=1,
        early_stopping_rounds=None,
        warm_start=False,
        pruner={"type": "none"},
        sampler={"type": sampler},
    )
    if history is not None:
        data["tuning"]["sampler"]["history"] = None if history == "null" else int(history)
    return dict(data)


# CPU seconds of this worker process at the end of its last fit, and per trial (by its
# parameters) the CPU it used since then: the bookkeeping's CPU.
_CPU: dict[str, Any] = {"end": None, "gaps": {}}


def params_key(params: dict[str, Any]) -> str:
    return json.dumps([params["learning_rate"], params["max_depth"], params["subsample"]])


def free_fit(params: dict[str, Any], matrices: Any, *args: Any, **kwargs: Any) -> Any:
    """A fit that costs nothing: a smooth function of the parameters."""
    import math

    if _CPU["end"] is not None:
        _CPU["gaps"][params_key(params)] = time.process_time() - _CPU["end"]

    class Booster:
        def attributes(self) -> dict[str, str]:
            return {}

    value = (math.log(params["learning_rate"]) - math.log(0.05)) ** 2 + (
        params["max_depth"] - 6
    ) ** 2 / 10
    _CPU["end"] = time.process_time()
    return Booster(), value


def worker(url: str, data: dict[str, Any], dataset: str, index: int, out: str = "") -> None:
    from tasks.core import parse_spec
    from tasks.tuning import run_worker, study_name, worker_heartbeat, worker_identity
    from tasks.tuning.storage import open_storage

    spec = parse_spec(data)
    summary = run_worker(
        open_storage(url, worker_heartbeat(spec)),
        {study_name(spec.name, DS): None},
        spec,
        dataset,
        worker_identity(spec, index, 0, 1),
        train=free_fit,
    )
    if out:
        Path(out).write_text(json.dumps({"summary": summary, "cpu": _CPU["gaps"]}))


def read_costs(url: str, data: dict[str, Any], repeats: int = 20) -> dict[str, Any]:
    """What a worker's two reads cost now: its read of the study (after the first, which
    fills its cache) and its look for waiting trials before a claim."""
    import optuna

    from tasks.core import parse_spec
    from tasks.tuning import study_name, worker_heartbeat
    from tasks.tuning.storage import open_storage, waiting_trial_ids

    spec = parse_spec(data)
    storage = open_storage(url, worker_heartbeat(spec))
    study = optuna.load_study(study_name=study_name(spec.name, DS), storage=storage)
    study_id = storage.get_study_id_from_name(study.study_name)
    study.get_trials(deepcopy=False)
    # A worker's look starts above the oldest trial it last saw waiting.
    waiting = waiting_trial_ids(storage, study_id, 32)
    above = waiting[0] - 1 if waiting else -1
    reads, looks = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        study.get_trials(deepcopy=False)
        reads.append(time.perf_counter() - started)
        started = time.perf_counter()
        waiting_trial_ids(storage, study_id, 32, above)
        looks.append(time.perf_counter() - started)
    all_waiting = storage.get_all_trials(
        study_id, deepcopy=False, states=(optuna.trial.TrialState.WAITING,)
    )
    return {
        "section": "reads",
        "waiting": len(all_waiting) if waiting else 0,
        "read_study_ms": round(1000 * statistics.median(reads), 1),
        "look_for_waiting_ms": round(1000 * statistics.median(looks), 1),
    }


def cpu_ms(trials: list[Any], outs: list[Path]) -> dict[int, float]:
    """Per trial number: the CPU its worker used since its previous fit, in ms."""
    gaps: dict[str, float] = {}
    for out in outs:
        gaps.update(json.loads(out.read_text())["cpu"])
    numbers = {params_key(t.params): t.number for t in trials if "learning_rate" in t.params}
    return {numbers[key]: 1000 * gap for key, gap in gaps.items() if key in numbers}


def bookkeeping_ms(trials: list[Any]) -> dict[int, float]:
    """Per trial number: ms its worker spent since the end of its previous fit."""
    by_worker: dict[str, list[tuple[float, float, int]]] = {}
    for trial in trials:
        record = trial.user_attrs.get("retune") or {}
        if "fit_started" in record:
            entry = (record["fit_started"], record["fit_seconds"], trial.number)
            by_worker.setdefault(record["worker"], []).append(entry)
    gaps = {}
    for runs in by_worker.values():
        runs.sort()
        for (start, seconds, _), (next_start, _, number) in pairwise(runs):
            gaps[number] = 1000 * (next_start - start - seconds)
    return gaps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.study_scale")
    parser.add_argument("--mysql-url", default=os.environ.get("RETUNE_BENCH_MYSQL_URL"))
    parser.add_argument("--trials", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--sampler", default="tpe")
    parser.add_argument("--history", default=None, help="the sampler's history; null: all")
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if not args.mysql_url:
        parser.error("--mysql-url (or RETUNE_BENCH_MYSQL_URL) is required")
    trials, workers = (120, 2) if args.quick else (args.trials, args.workers)
    marks = [n for n in (100, 1000, 5000) if n <= trials] or [trials]

    import optuna

    from bench.processes import run_processes
    from bench.scale import write_snapshot
    from tasks.core import parse_spec
    from tasks.tuning import create_study, study_name
    from tasks.tuning.storage import open_storage

    with tempfile.TemporaryDirectory(prefix="retune-bench-study-") as tmp:
        dataset = write_snapshot(Path(tmp), 2_000)
        data = study_spec(dataset, trials, workers, args.sampler, args.history)
        spec = parse_spec(data)
        history = spec.tuning.sampler.history
        started = time.perf_counter()
        create_study(open_storage(args.mysql_url), spec, DS)
        created = time.perf_counter() - started
        print(json.dumps(read_costs(args.mysql_url, data)), flush=True)
        outs = [Path(tmp) / f"worker-{i}.json" for i in range(workers)]
        wall = run_processes(
            worker, [(args.mysql_url, data, str(dataset), i, str(outs[i])) for i in range(workers)]
        )
        study = optuna.load_study(
            study_name=study_name(spec.name, DS), storage=open_storage(args.mysql_url)
        )
        done = study.get_trials(deepcopy=False)
        print(json.dumps(read_costs(args.mysql_url, data)), flush=True)
        cpu = cpu_ms(done, outs)
        lost = sum(json.loads(out.read_text())["summary"]["claims_lost"] for out in outs)
    gaps = bookkeeping_ms(done)
    summary: dict[str, Any] = {}
    for mark in marks:
        window = [gaps[n] for n in range(mark - args.window, mark) if n in gaps]
        cpu_window = [cpu[n] for n in range(mark - args.window, mark) if n in cpu]
        line = {
            "section": "study",
            "sampler": args.sampler,
            "history": history,
            "workers": workers,
            "at_trial": mark,
            "per_trial_ms": round(statistics.median(window), 1),
            "p90_ms": round(statistics.quantiles(window, n=10)[-1], 1),
            "cpu_ms": round(statistics.median(cpu_window), 1),
        }
        print(json.dumps(line), flush=True)
        summary[f"per_trial_ms_at_{mark}"] = line["per_trial_ms"]
        summary[f"cpu_ms_at_{mark}"] = line["cpu_ms"]
    finished = sum(t.state.is_finished() for t in done)
    print(
        json.dumps(
            {
                "section": "study",
                "sampler": args.sampler,
                "history": history,
                "workers": workers,
                "trials": finished,
                "create_seconds": round(created, 1),
                "wall_seconds": round(wall, 1),
                "trials_per_second": round(finished / wall, 1),
                "claims_lost": lost,
                **summary,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
