"""Tuning benchmark: time to a good model, Retune's tune stage against the NVIDIA
joblib-spark approach, on a first day and on a second, drifted day.

Every system runs in one invocation, per seed, in a shuffled order, on the same generated
snapshots (day 2 is a new sample of the same process, drifted: one of its six terms
has the weight 1.0 instead of 1.3), the same search space, the same MySQL and the same
local Spark (W Spark tasks, one XGBoost thread each):

- ``retune``: the tune stage as shipped (``tasks.tuning.run_tune``): a global budget
  claimed trial by trial, a seed per worker, TPE with constant liar, median pruning on
  boosting rounds (``fidelity: rounds``); on day 2 warm-started from its day-1 study.
- ``retune-rows``: the same with ``fidelity: rows`` (successive halving on nested row
  samples); on day 2 warm-started from its own day-1 study.
- ``retune-1x2threads``: one trial at a time with 2 XGBoost threads (day 1).
- ``retune-cold``: day 2 without warm start.
- ``seed-approach``: a faithful re-expression of the NVIDIA example: every Spark task
  loads the data once, builds its DMatrix once, then runs ``study.optimize`` on its
  static share ``n_trials / W`` with ``TPESampler(seed=seed)``, the same seed on every
  worker, ask/tell through the same MySQL.

It also measures per-trial bookkeeping with an objective that does nothing (Retune's
worker loop against bare ``study.optimize``, both on MySQL), and the fidelity check: the
rank correlation of random settings between each row sample and all rows, and the
sample's training time against the all-rows time.

Prints one JSON object per line: one per system, day and seed, the bookkeeping lines,
the fidelity check, then a summary with medians over the seeds.

    python -m bench.tuning --mysql-url mysql+pymysql://user:pw@127.0.0.1/db [--quick]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from bench.staging import stage_frame
from tasks import tuning as engine
from tasks.core import Layout, PipelineSpec, parse_spec
from tasks.data import make_frame, run_materialize
from tasks.tuning.storage import mask_url, open_storage

DS = "2026-11-21"
NEXT_DS = "2026-11-22"  # day 2: a new sample of the same process, mildly drifted
SEARCH_SPACE = {
    "max_depth": {"type": "int", "low": 3, "high": 10},
    "learning_rate": {"type": "float", "low": 0.02, "high": 0.3, "log": True},
    "subsample": {"type": "float", "low": 0.5, "high": 1.0},
    "colsample_bytree": {"type": "float", "low": 0.5, "high": 1.0},
    "min_child_weight": {"type": "float", "low": 0.5, "high": 20.0, "log": True},
    "reg_lambda": {"type": "float", "low": 0.001, "high": 10.0, "log": True},
}
FULL = {
    "rows": 100_000,
    "features": 40,
    "trials": 40,
    "workers": 2,
    "rounds": 200,
    "seeds": 5,
    "bookkeeping_trials": 100,
    "fidelity_settings": 16,
    "min_rung_rows": 2000,
}
QUICK = {
    "rows": 8_000,
    "features": 10,
    "trials": 8,
    "workers": 2,
    "rounds": 30,
    "seeds": 1,
    "bookkeeping_trials": 20,
    "fidelity_settings": 4,
    "min_rung_rows": 500,
}
# (system, day) -> what differs from the default tune stage. Every Retune system has a
# pipeline (and so a study and snapshot) of its own per name; on day 2 "retune" warm-starts
# from "retune" of day 1, and "retune-rows" from "retune-rows".
ROWS = {"fidelity": {"type": "rows"}}
RETUNE_SYSTEMS: dict[tuple[str, int], dict[str, Any]] = {
    ("retune", 1): {},
    ("retune-rows", 1): ROWS,
    ("retune-1x2threads", 1): {"spark_tasks_per_worker": 1, "nthread": 2},
    ("retune", 2): {"warm_start": True},
    ("retune-rows", 2): {**ROWS, "warm_start": True},
    ("retune-cold", 2): {},
}
SYSTEMS = [*(f"{name}@{day}" for name, day in RETUNE_SYSTEMS), "seed-approach@1", "seed-approach@2"]


def bench_spec(
    size: dict[str, Any], seed: int, name: str | None = None, **tuning: Any
) -> PipelineSpec:
    """The benchmark's pipeline; ``tuning`` overrides the tune stage's settings."""
    features = size["features"]
    columns = {"id": "long", **{f"f{i:02d}": "double" for i in range(features)}, "y": "double"}
    fidelity = {"min_rows": size["min_rung_rows"], **tuning.pop("fidelity", {})}
    return parse_spec(
        {
            "name": name or f"bench_{uuid.uuid4().hex[:10]}",
            "start_date": "2026-11-01",
            "source": {"path": "{storage_root}/raw/bench/ds={ds}"},
            "schema": {"key": "id", "target": "y", "columns": columns},
            "task": "regression",
            "metric": "rmse",
            "search_space": SEARCH_SPACE,
            "tuning": {
                "n_trials": size["trials"],
                "n_workers": 1,
                "spark_tasks_per_worker": size["workers"],
                "num_boost_round": size["rounds"],
                "early_stopping_rounds": 20,
                "nthread": 1,
                "seed": seed,
                "warm_start": False,
                "fidelity": fidelity,
                **tuning,
            },
            "gpu": "off",
        }
    )


def publish_snapshot(
    root: Path, spec: PipelineSpec, rows: int, features: int, ds: str = DS
) -> Layout:
    layout = Layout(root, spec.name, ds)
    frame = make_frame(date.fromisoformat(ds), rows, seed=11, features=features)
    stage_frame(layout, frame)
    run_materialize(spec, layout)
    return layout


def seed_approach_task(
    url: str, name: str, spec_data: dict[str, Any], dataset: str, trials_per_worker: int
) -> Any:
    """What one Spark task of the NVIDIA example does (worker I/O, static share, shared seed)."""

    def task(_partition: int, _rows: Any) -> Any:
        import optuna
        import pyarrow.parquet as pq
        import xgboost as xgb

        spec = parse_spec(spec_data)
        features, target = spec.model_features, spec.data_schema.target
        frames = {
            split: pq.read_table(f"{dataset}/{split}", columns=[*features, target]).to_pandas()
            for split in ("train", "valid")
        }
        dtrain = xgb.DMatrix(frames["train"][features], frames["train"][target])
        dvalid = xgb.DMatrix(frames["valid"][features], frames["valid"][target])
        study = optuna.load_study(
            study_name=name,
            storage=url,
            sampler=optuna.samplers.TPESampler(seed=spec.tuning.seed),
        )

        def objective(trial: optuna.Trial) -> float:
            params = {
                "objective": "reg:squarederror",
                "eval_metric": "rmse",
                "tree_method": "hist",
                "nthread": 1,
                "seed": spec.tuning.seed,
                "verbosity": 0,
                **engine.suggest(trial, spec.search_space),
            }
            history: dict[str, Any] = {}
            booster = xgb.train(
                params,
                dtrain,
                num_boost_round=spec.tuning.num_boost_round,
                evals=[(dvalid, "valid")],
                early_stopping_rounds=spec.tuning.early_stopping_rounds,
                evals_result=history,
                verbose_eval=False,
            )
            return float(history["valid"]["rmse"][int(booster.best_iteration)])

        def timed(trial: optuna.Trial) -> float:
            started = time.time()
            value = objective(trial)
            fits.append((started, time.time(), value))
            return value

        fits: list[tuple[float, float, float]] = []
        study.optimize(timed, n_trials=trials_per_worker)
        yield from fits

    return task


def trial_figures(
    trials: list[Any],
    fits: list[tuple[float, float, float | None]],
    started: float,
    wall: float,
    workers: int,
) -> dict[str, Any]:
    """Figures of one run; ``fits`` are (start, end, value or None) of every objective call."""
    finished = [t for t in engine.counted_trials(trials) if t.state.is_finished()]
    fit = sum(end - start for start, end, _ in fits)
    complete = [t for t in finished if t.state.name == "COMPLETE"]
    rungs: dict[str, int] = {}
    for trial in finished:
        rung = engine.trial_record(trial).get("rung")
        if rung is not None:
            rungs[str(rung)] = rungs.get(str(rung), 0) + 1
    return {
        "wall_s": round(wall, 2),
        "fit_s": round(fit, 2),
        "efficiency": round(fit / (workers * wall), 3),
        "trials_by_rung": dict(sorted(rungs.items())),
        "best_value": min(float(t.value or 0.0) for t in complete) if complete else None,
        "distinct_params": len({tuple(sorted(t.params.items())) for t in trials if t.params}),
        "finished_trials": len(finished),
        "pruned": sum(t.state.name == "PRUNED" for t in finished),
        "failed": sum(t.state.name == "FAIL" for t in finished),
        "curve": sorted((end - started, value) for _, end, value in fits if value is not None),
    }


def time_to_reach(curve: list[tuple[float, float]], target: float | None) -> float | None:
    if target is None:
        return None
    best = float("inf")
    for at, value in curve:
        best = min(best, value)
        if best <= target:
            return round(at, 2)
    return None


def run_retune(
    spark: Any, url: str, root: Path, spec: PipelineSpec, ds: str = DS
) -> dict[str, Any]:
    import optuna

    started, clock = time.time(), time.perf_counter()
    engine.create_study(open_storage(url), spec, ds)
    engine.run_tune(spark, spec, ds, str(root), url, 0, spec.tuning.spark_tasks_per_worker, 1)
    wall = time.perf_counter() - clock
    trials = optuna.load_study(
        study_name=engine.study_name(spec.name, ds), storage=url
    ).get_trials()
    fits = []
    for trial in trials:
        record = engine.trial_record(trial)
        if "fit_started" in record:
            start = record["fit_started"]
            value = trial.value if trial.state.name == "COMPLETE" else None
            fits.append((start, start + record["fit_seconds"], value))
    return trial_figures(trials, fits, started, wall, spec.tuning.parallelism)


def run_seed_approach(spark: Any, url: str, layout: Layout, spec: PipelineSpec) -> dict[str, Any]:
    import optuna

    workers = spec.tuning.parallelism
    name = f"seed-approach.{spec.name}.{layout.ds}"
    started, clock = time.time(), time.perf_counter()
    optuna.create_study(study_name=name, storage=url, direction="minimize")
    task = seed_approach_task(
        url,
        name,
        spec.model_dump(by_alias=True, mode="json"),
        str(layout.dataset_dir),
        spec.tuning.n_trials // workers,
    )
    rdd = spark.sparkContext.parallelize(range(workers), workers)
    fits = rdd.mapPartitionsWithIndex(task).collect()
    wall = time.perf_counter() - clock
    trials = optuna.load_study(study_name=name, storage=url).get_trials()
    return trial_figures(trials, fits, started, wall, workers)


OBJECTIVE_CALLS: list[float] = []


def instant(params: dict[str, Any], *_: Any) -> tuple[Any, float]:
    """An objective that costs nothing; notes when it was called."""

    class Booster:
        def attributes(self) -> dict[str, str]:
            return {}

    OBJECTIVE_CALLS.append(time.perf_counter())
    return Booster(), float(params["learning_rate"] + params["subsample"])


def cycle_seconds(calls: list[float]) -> float:
    """Median time between objective calls: what a trial costs besides its objective.

    The median, because a garbage collection or a noisy neighbour stalls single cycles.
    """
    return statistics.median(b - a for a, b in itertools.pairwise(calls))


def bookkeeping(url: str, layout: Layout, spec: PipelineSpec, trials: int) -> list[dict[str, Any]]:
    """Per-trial storage overhead with an objective that costs nothing, one worker each.

    Both use TPE with the same settings and the same search space on the same MySQL;
    the time between consecutive objective calls is what a trial costs besides training.
    """
    import optuna

    one = parse_spec(
        {
            **spec.model_dump(by_alias=True, mode="json"),
            "tuning": {
                **spec.tuning.model_dump(mode="json"),
                "n_trials": trials,
                "spark_tasks_per_worker": 1,
                "pruner": {"type": "none"},
            },
        }
    )
    # Storages and studies are created before the clocks start: only trials are timed.
    sampler = engine.build_sampler(one.tuning, one.tuning.seed)
    bare = optuna.create_study(
        study_name=f"bare.{one.name}", storage=url, sampler=sampler, direction="minimize"
    )
    storage = open_storage(url, engine.worker_heartbeat(one))
    engine.create_study(storage, one, layout.ds)
    identity = engine.worker_identity(one, 0, 0, 1)

    def run_bare() -> float:
        OBJECTIVE_CALLS.clear()
        bare.optimize(lambda t: instant(engine.suggest(t, one.search_space))[1], n_trials=trials)
        return cycle_seconds(OBJECTIVE_CALLS)

    def run_ours() -> float:
        OBJECTIVE_CALLS.clear()
        name = engine.study_name(one.name, layout.ds)
        engine.run_worker(
            storage, {name: None}, one, str(layout.dataset_dir), identity, train=instant
        )
        return cycle_seconds(OBJECTIVE_CALLS)

    # The seed decides which goes first, so neither always runs on a warmer machine.
    if one.tuning.seed % 2:
        ours_s, bare_s = run_ours(), run_bare()
    else:
        bare_s, ours_s = run_bare(), run_ours()
    ratio = round(ours_s / bare_s, 3)
    return [
        {
            "system": "bare-optuna-bookkeeping",
            "trials": trials,
            "per_trial_ms": round(1000 * bare_s, 2),
        },
        {
            "system": "retune-bookkeeping",
            "trials": trials,
            "per_trial_ms": round(1000 * ours_s, 2),
            "ratio_to_bare": ratio,
        },
    ]


def fidelity_check(layout: Layout, spec: PipelineSpec, settings: int) -> list[dict[str, Any]]:
    """Rank correlation of random settings between each row sample and all rows.

    ``settings`` parameter sets drawn at random from the search space are each trained on
    every rung's row sample (the matrices a worker builds) and on all rows, with early
    stopping, 2 threads, one after another; per rung: Spearman's rho of the validation
    metric against all rows', the median fit time and its ratio to all rows'.
    """
    import optuna
    from scipy.stats import spearmanr

    from tasks.model import base_params, build_matrices, fit, load_snapshot

    snapshot = load_snapshot(str(layout.dataset_dir), spec, "cpu")
    fractions = spec.tuning.fidelity.fractions(snapshot.rows["train"])
    matrices = build_matrices(snapshot, sample_fractions=fractions, sample_seed=spec.tuning.seed)
    sampler = optuna.samplers.RandomSampler(seed=spec.tuning.seed)
    study = optuna.create_study(sampler=sampler)
    params = [engine.suggest(study.ask(), spec.search_space) for _ in range(settings)]
    fixed = {**base_params(spec, "cpu", spec.tuning.seed, snapshot), "nthread": 2}
    levels = {**{f: matrices.sample(f) for f in fractions}, 1.0: matrices}
    values: dict[float, list[float]] = {f: [] for f in levels}
    times: dict[float, list[float]] = {f: [] for f in levels}
    for point in params:
        for fraction, level in levels.items():
            clock = time.perf_counter()
            _, value = fit(
                {**fixed, **point},
                level,
                spec.tuning.num_boost_round,
                spec.tuning.early_stopping_rounds,
            )
            times[fraction].append(time.perf_counter() - clock)
            values[fraction].append(value)
    full_time = statistics.median(times[1.0])
    lines = []
    for fraction, level in levels.items():
        rho = spearmanr(values[fraction], values[1.0]).statistic
        lines.append(
            {
                "fidelity_check": {
                    "fraction": round(fraction, 4),
                    "rows": level.rows["train"],
                    "settings": settings,
                    "spearman_to_all_rows": round(float(rho), 3),
                    "fit_s_median": round(statistics.median(times[fraction]), 3),
                    "time_ratio_to_all_rows": round(
                        statistics.median(times[fraction]) / full_time, 3
                    ),
                }
            }
        )
    matrices.close()
    return lines


def warm_up(spark: Any, workers: int) -> None:
    """Import the heavy modules in Spark's (reused) Python workers before anything is timed."""

    def load(_: Any) -> Any:
        import optuna
        import optuna_integration  # noqa: F401
        import pyarrow.parquet  # noqa: F401
        import xgboost  # noqa: F401

        import tasks.tuning.worker  # noqa: F401

        yield optuna.__version__

    spark.sparkContext.parallelize(range(workers), workers).mapPartitions(load).collect()


def system_key(name: str, day: int) -> str:
    return f"{name}@{day}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tuning",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get("RETUNE_BENCH_MYSQL_URL") or os.environ.get("RETUNE_TEST_MYSQL_URL"),
    )
    parser.add_argument("--quick", action="store_true", help="a small run for CI")
    parser.add_argument("--seeds", type=int, nargs="*", help="base seeds (default: 0 to 4)")
    parser.add_argument(
        "--fidelity-settings",
        type=int,
        help="random settings of the fidelity check (default: 16, quick 4; 0 skips it)",
    )
    parser.add_argument("--root", type=Path, help="storage root (default: a temporary folder)")
    parser.add_argument(
        "--systems",
        nargs="*",
        choices=SYSTEMS,
        help="the systems to run, as name@day (default: all; retune@2 needs retune@1)",
    )
    args = parser.parse_args(argv)
    if not args.mysql_url:
        parser.error("--mysql-url (or RETUNE_BENCH_MYSQL_URL) is required: both systems use MySQL")
    size = QUICK if args.quick else FULL
    seeds = args.seeds if args.seeds else list(range(size["seeds"]))
    systems = args.systems or SYSTEMS
    for name in ("retune", "retune-rows"):
        if f"{name}@2" in systems and f"{name}@1" not in systems:
            parser.error(f"{name}@2 warm-starts from {name}@1: run both")
    root = args.root or Path(tempfile.mkdtemp(prefix="retune-bench-"))
    settings = size["fidelity_settings"]
    if args.fidelity_settings is not None:
        settings = args.fidelity_settings
    print(
        json.dumps(
            {
                "config": {
                    **size,
                    "fidelity_settings": settings,
                    "seeds": seeds,
                    "systems": systems,
                    "storage": mask_url(args.mysql_url),
                }
            }
        ),
        flush=True,
    )

    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable  # executors need this venv's packages
    spark = (
        SparkSession.builder.master(f"local[{size['workers']}]")
        .appName("retune-bench-tuning")
        .config("spark.ui.enabled", "false")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.task.cpus", "1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    warm_up(spark, size["workers"])
    rows: list[dict[str, Any]] = []
    try:
        for index, seed in enumerate(seeds):
            rows.extend(run_seed(spark, args.mysql_url, root, size, seed, systems, index == 0))
        if settings:
            spec = bench_spec(size, seeds[0], None, fidelity={"type": "rows"})
            layout = publish_snapshot(root, spec, size["rows"], size["features"])
            for line in fidelity_check(layout, spec, settings):
                print(json.dumps(line), flush=True)
    finally:
        spark.stop()
    print(json.dumps({"summary": summarize(rows)}), flush=True)


def run_seed(
    spark: Any,
    url: str,
    root: Path,
    size: dict[str, Any],
    seed: int,
    systems: list[str],
    bookkeeping_too: bool,
) -> list[dict[str, Any]]:
    """Every system of one seed, day 1 then day 2; one line each (printed as it ends)."""
    tag = uuid.uuid4().hex[:8]
    # Which system runs first alternates with the seed, so none always meets a warmer machine.
    step = 1 if seed % 2 == 0 else -1
    results: dict[str, dict[str, Any]] = {}
    layouts: dict[int, Layout] = {}
    for day, ds in ((1, DS), (2, NEXT_DS)):
        order = [key for key in systems if key.endswith(f"@{day}")][::step]
        for key in order:
            name, _ = key.split("@")
            if name == "seed-approach":
                if day not in layouts:
                    layouts[day] = publish_snapshot(
                        root,
                        bench_spec(size, seed, f"bench_{tag}_s"),
                        size["rows"],
                        size["features"],
                        ds,
                    )
                spec = bench_spec(size, seed, layouts[day].pipeline)
                results[key] = run_seed_approach(spark, url, layouts[day], spec)
                continue
            pipeline = f"bench_{tag}_" + ("r" if name == "retune" else name.replace("-", "_"))
            spec = bench_spec(size, seed, pipeline, **copy.deepcopy(RETUNE_SYSTEMS[(name, day)]))
            layout = publish_snapshot(root, spec, size["rows"], size["features"], ds)
            layouts.setdefault(day, layout)
            results[key] = run_retune(spark, url, root, spec, ds)
    lines = []
    for key, figures in results.items():
        system, day_text = key.split("@")
        figures = dict(figures)
        curve = figures.pop("curve")
        other = results.get(f"seed-approach@{day_text}")
        target = other["best_value"] if other else None
        figures["time_to_other_best_s"] = time_to_reach(curve, target)
        line = {"system": system, "day": int(day_text), "seed": seed, **figures}
        lines.append(line)
        print(json.dumps(line), flush=True)
    if bookkeeping_too and layouts:
        spec = bench_spec(size, seed)
        for line in bookkeeping(
            url, layouts[1 if 1 in layouts else 2], spec, size["bookkeeping_trials"]
        ):
            line = {**line, "seed": seed}
            lines.append(line)
            print(json.dumps(line), flush=True)
    return lines


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians (and the spread) over seeds per system and day, and the issue's targets."""
    runs = [r for r in rows if "day" in r]

    def values(system: str, day: int, key: str) -> list[Any]:
        return [r.get(key) for r in runs if r["system"] == system and r["day"] == day]

    def median(system: str, day: int, key: str) -> float | None:
        found = [v for v in values(system, day, key) if v is not None]
        return round(statistics.median(found), 4) if found else None

    def median_reach(system: str, day: int) -> float | None:
        """Median time to the seed approach's best, "never" counted as infinitely late."""
        found = values(system, day, "time_to_other_best_s")
        if not found:
            return None
        value = statistics.median(float("inf") if v is None else v for v in found)
        return None if value == float("inf") else round(value, 2)

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else round(a / b, 3)

    summary: dict[str, Any] = {}
    for system, day in sorted({(r["system"], r["day"]) for r in runs}, key=lambda k: (k[1], k[0])):
        best = [v for v in values(system, day, "best_value") if v is not None]
        summary[system_key(system, day)] = {
            **{
                key: median(system, day, key)
                for key in ("wall_s", "fit_s", "efficiency", "best_value", "distinct_params")
            },
            "best_value_spread": [min(best), max(best)] if best else None,
            "time_to_seed_best_s": median_reach(system, day),
            "reached_seed_best": sum(
                v is not None for v in values(system, day, "time_to_other_best_s")
            ),
            "seeds": len(values(system, day, "wall_s")),
        }

    def ttq(system: str, day: int) -> float | None:
        return ratio(median_reach(system, day), median("seed-approach", day, "wall_s"))

    def best_ratio(system: str, day: int, other: str = "seed-approach") -> float | None:
        return ratio(median(system, day, "best_value"), median(other, day, "best_value"))

    summary["targets"] = {
        "ttq_cold_ratio": ttq("retune", 1),
        "ttq_warm_ratio": ttq("retune", 2),
        "best_cold_ratio": best_ratio("retune", 1),
        "best_warm_ratio": best_ratio("retune", 2),
        "efficiency": median("retune", 1, "efficiency"),
    }
    summary["levers"] = {
        "ttq_rows_ratio": ttq("retune-rows", 1),
        "best_rows_ratio": best_ratio("retune-rows", 1),
        "ttq_rows_warm_ratio": ttq("retune-rows", 2),
        "best_rows_warm_ratio": best_ratio("retune-rows", 2),
        "ttq_1x2threads_ratio": ttq("retune-1x2threads", 1),
        "best_1x2threads_ratio": best_ratio("retune-1x2threads", 1),
        "ttq_day2_cold_ratio": ttq("retune-cold", 2),
        "best_warm_over_day2_cold": best_ratio("retune", 2, "retune-cold"),
        "wall_warm_over_day2_cold": ratio(
            median("retune", 2, "wall_s"), median("retune-cold", 2, "wall_s")
        ),
    }
    bookkeeping_ratios = [r["ratio_to_bare"] for r in rows if "ratio_to_bare" in r]
    if bookkeeping_ratios:
        summary["bookkeeping_ratio"] = statistics.median(bookkeeping_ratios)
    return summary


if __name__ == "__main__":
    main()
