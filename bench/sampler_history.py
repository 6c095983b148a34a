"""Search quality and sampling cost of a bounded sampler history (``tuning.sampler.history``).

Retune's sampler (TPE, multivariate, grouped, constant liar) on the Hartmann-6 function
(6 parameters, the usual HPO test function, global minimum -3.32237), in memory, in
batches of ``--workers`` trials asked together and told together, as parallel workers
do. Each history (``null`` = every trial) runs the same ``--seeds``. One JSON line per
history and seed, then one summary per history::

    {"section": "history", "history", "seed", "trials", "best_at_<n>" for each mark,
     "sample_ms_last_100": mean time to ask a trial over the last 100}
    {"section": "history_summary", "history", "seeds", "median_best_at_<n>",
     "median_regret_at_<n>", "median_sample_ms_last_100"}

    python -m bench.sampler_history [--trials 3000] [--seeds 5] [--history 1000 null]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
import warnings
from typing import Any

HARTMANN6_MIN = -3.32237
_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
_P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]
_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(x: list[float]) -> float:
    return -sum(
        alpha * math.exp(-sum(a * (xi - p) ** 2 for a, xi, p in zip(row, x, prow, strict=True)))
        for alpha, row, prow in zip(_ALPHA, _A, _P, strict=True)
    )


def run(history: int | None, seed: int, trials: int, workers: int, marks: list[int]) -> dict:
    import optuna

    from tasks.core import SamplerSpec, TuningSpec
    from tasks.tuning import build_sampler

    tuning = TuningSpec(
        n_trials=trials, n_workers=workers, sampler=SamplerSpec(type="tpe", history=history)
    )
    study = optuna.create_study(sampler=build_sampler(tuning, seed))
    space: dict[str, optuna.distributions.BaseDistribution] = {
        f"x{i}": optuna.distributions.FloatDistribution(0.0, 1.0) for i in range(6)
    }
    best, found, ask_seconds = math.inf, {}, []
    asked = 0
    while asked < trials:
        batch = []
        for _ in range(min(workers, trials - asked)):
            asked += 1
            started = time.perf_counter()
            batch.append(study.ask(space))
            ask_seconds.append(time.perf_counter() - started)
        for trial in batch:
            value = hartmann6([trial.params[f"x{i}"] for i in range(6)])
            study.tell(trial, value)
            best = min(best, value)
            if trial.number + 1 in marks:
                found[trial.number + 1] = best
    return {
        "section": "history",
        "history": history,
        "seed": seed,
        "trials": trials,
        **{f"best_at_{n}": round(found[n], 5) for n in marks},
        "sample_ms_last_100": round(1000 * statistics.mean(ask_seconds[-100:]), 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.sampler_history")
    parser.add_argument("--trials", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--history", nargs="+", default=["1000", "null"])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    trials, seeds = (120, 1) if args.quick else (args.trials, args.seeds)
    histories = (
        [50, None] if args.quick else [None if h == "null" else int(h) for h in args.history]
    )
    marks = sorted({n for n in (100, 500, 1000, 2000, 5000, trials) if n <= trials})
    results: dict[Any, list[dict]] = {}
    for seed in range(seeds):
        for history in histories:
            line = run(history, seed, trials, args.workers, marks)
            print(json.dumps(line), flush=True)
            results.setdefault(history, []).append(line)
    for history, lines in results.items():
        summary: dict[str, Any] = {"section": "history_summary", "history": history}
        summary["seeds"] = len(lines)
        for n in marks:
            summary[f"median_best_at_{n}"] = round(
                statistics.median(line[f"best_at_{n}"] for line in lines), 5
            )
            summary[f"median_regret_at_{n}"] = round(
                summary[f"median_best_at_{n}"] - HARTMANN6_MIN, 5
            )
        summary["median_sample_ms_last_100"] = round(
            statistics.median(line["sample_ms_last_100"] for line in lines), 2
        )
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
