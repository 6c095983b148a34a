"""Tuning benchmark: Retune's tune stage against the NVIDIA joblib-spark approach.

Both run in one invocation, on the same generated snapshot, the same search space,
the same MySQL and the same local Spark (W Spark tasks, one XGBoost thread each):

- ``retune``: the tune stage (``tasks.tuning.run_tune``): a global budget claimed trial by
  trial, a seed per worker, TPE with constant liar, median pruning.
- ``seed-approach``: a faithful re-expression of the NVIDIA example: every Spark task
  loads the data once, builds its DMatrix once, then runs ``study.optimize`` on its
  static share ``n_trials / W`` with ``TPESampler(seed=seed)``, the same seed on every
  worker, ask/tell through the same MySQL.

It also measures per-trial bookkeeping with an objective that does nothing: Retune's
worker loop against bare ``study.optimize``, both on MySQL.

Prints one JSON object per line: one per system and seed, then the bookkeeping lines,
then a summary with medians over the seeds.

    python -m bench.tuning --mysql-url mysql+pymysql://user:pw@127.0.0.1/db [--quick]
"""

from __future__ import annotations

import argparse
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

from tasks import tuning as engine
from tasks.core import Layout, PipelineSpec, parse_spec
from tasks.data import make_frame, run_materialize
from tasks.tuning.storage import mask_url, open_storage
from tests.staging import stage_frame

DS = "2026-11-21"
NEXT_DS = "2026-11-22"
# (system, the system whose final best it is timed against)
PAIRS = (
    ("retune", "seed-approach"),
    ("seed-approach", "retune"),
    ("retune-warm", "seed-approach-next-day"),
    ("seed-approach-next-day", "retune-warm"),
)
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
    "seeds": 3,
    "bookkeeping_trials": 100,
}
QUICK = {
    "rows": 8_000,
    "features": 10,
    "trials": 8,
    "workers": 2,
    "rounds": 30,
    "seeds": 1,
    "bookkeeping_trials": 20,
}


def bench_spec(
    features: int, trials: int, workers: int, rounds: int, seed: int, pruner: str | None = None
) -> PipelineSpec:
    columns = {"id": "long", **{f"f{i:02d}": "double" for i in range(features)}, "y": "double"}
    return parse_spec(
        {
            "name": f"bench_{uuid.uuid4().hex[:10]}",
            "start_date": "2026-11-01",
            "source": {"path": "{storage_root}/raw/bench/ds={ds}"},
            "schema": {"key": "id", "target": "y", "columns": columns},
            "task": "regression",
            "metric": "rmse",
            "search_space": SEARCH_SPACE,
            "tuning": {
                "n_trials": trials,
                "n_workers": 1,
                "spark_tasks_per_worker": workers,
                "num_boost_round": rounds,
                "early_stopping_rounds": 20,
                "nthread": 1,
                "seed": seed,
                "warm_start": False,
                **({"pruner": {"type": pruner}} if pruner else {}),
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
    return {
        "wall_s": round(wall, 2),
        "fit_s": round(fit, 2),
        "efficiency": round(fit / (workers * wall), 3),
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
        engine.run_worker(storage, name, one, str(layout.dataset_dir), identity, train=instant)
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
    parser.add_argument("--seeds", type=int, nargs="*", help="base seeds (default: 0 1 2)")
    parser.add_argument("--root", type=Path, help="storage root (default: a temporary folder)")
    parser.add_argument(
        "--pruner",
        choices=["median", "successive_halving", "hyperband", "none"],
        help="Retune's pruner (default: the spec's default)",
    )
    args = parser.parse_args(argv)
    if not args.mysql_url:
        parser.error("--mysql-url (or RETUNE_BENCH_MYSQL_URL) is required: both systems use MySQL")
    size = QUICK if args.quick else FULL
    seeds = args.seeds if args.seeds else list(range(size["seeds"]))
    root = args.root or Path(tempfile.mkdtemp(prefix="retune-bench-"))
    print(
        json.dumps(
            {
                "config": {
                    **size,
                    "seeds": seeds,
                    "pruner": args.pruner or "spec default (median)",
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
        for seed in seeds:
            spec = bench_spec(
                size["features"], size["trials"], size["workers"], size["rounds"], seed, args.pruner
            )
            layout = publish_snapshot(root, spec, size["rows"], size["features"])
            # Alternate which system goes first, so neither always meets a warmer machine.
            order = ["retune", "seed-approach"][:: 1 if seed % 2 == 0 else -1]
            results = {}
            for system in order:
                if system == "retune":
                    results[system] = run_retune(spark, args.mysql_url, root, spec)
                else:
                    results[system] = run_seed_approach(spark, args.mysql_url, layout, spec)
            if not args.quick:
                # The daily case: the next day's data; Retune warm-starts from today's study,
                # the seed approach has nothing to start from.
                warm = parse_spec(
                    {
                        **spec.model_dump(by_alias=True, mode="json"),
                        "tuning": {**spec.tuning.model_dump(mode="json"), "warm_start": True},
                    }
                )
                next_day = publish_snapshot(root, warm, size["rows"], size["features"], NEXT_DS)
                results["retune-warm"] = run_retune(spark, args.mysql_url, root, warm, NEXT_DS)
                results["seed-approach-next-day"] = run_seed_approach(
                    spark, args.mysql_url, next_day, warm
                )
            for system, other in PAIRS:
                if system not in results:
                    continue
                figures = dict(results[system])
                curve = figures.pop("curve")
                figures["time_to_other_best_s"] = time_to_reach(curve, results[other]["best_value"])
                row = {"system": system, "seed": seed, **figures}
                rows.append(row)
                print(json.dumps(row), flush=True)
            for line in bookkeeping(args.mysql_url, layout, spec, size["bookkeeping_trials"]):
                row = {**line, "seed": seed}
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        spark.stop()
    print(json.dumps({"summary": summarize(rows)}), flush=True)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over seeds per system, and the issue's targets computed from them."""
    systems = [system for system, _ in PAIRS if any(r.get("system") == system for r in rows)]

    def median(system: str, key: str) -> float | None:
        values = [r[key] for r in rows if r.get("system") == system and r.get(key) is not None]
        return round(statistics.median(values), 3) if values else None

    def reach_ratios(system: str, other: str) -> list[float | None]:
        """Per seed: when ``system`` reached ``other``'s final best, over ``other``'s wall."""
        ratios = []
        for row in (r for r in rows if r.get("system") == system):
            (theirs,) = [r for r in rows if r.get("system") == other and r["seed"] == row["seed"]]
            reach = row["time_to_other_best_s"]
            ratios.append(None if reach is None else round(reach / theirs["wall_s"], 3))
        return ratios

    def median_ratio(ratios: list[float | None]) -> float | None:
        """Median, counting "never reached" as infinitely late."""
        if not ratios:
            return None
        value = statistics.median(float("inf") if r is None else r for r in ratios)
        return None if value == float("inf") else round(value, 3)

    keys = (
        "wall_s",
        "fit_s",
        "efficiency",
        "best_value",
        "distinct_params",
        "time_to_other_best_s",
    )
    summary: dict[str, Any] = {system: {k: median(system, k) for k in keys} for system in systems}
    cold = reach_ratios("retune", "seed-approach")
    warm = reach_ratios("retune-warm", "seed-approach-next-day")
    summary["targets"] = {
        "retune_efficiency": median("retune", "efficiency"),
        "retune_reach_over_seed_wall": median_ratio(cold),
        "retune_reach_over_seed_wall_per_seed": cold,
        "retune_warm_reach_over_seed_wall": median_ratio(warm),
        "retune_warm_reach_over_seed_wall_per_seed": warm,
        "bookkeeping_ratio": median("retune-bookkeeping", "ratio_to_bare"),
    }
    return summary


if __name__ == "__main__":
    main()
