"""Stand-in trainers and worker processes for tuning tests (importable by spawned processes).

The stand-ins keep the worker's real loop, storage, heartbeats and retries, and replace
only the XGBoost fit, so a test can make a trial slow, fail in one region, or run long
enough to be killed.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna

from tasks.core import parse_spec
from tasks.model import Matrices, fit
from tasks.tuning import run_worker, study_name, worker_heartbeat, worker_identity
from tasks.tuning.storage import Heartbeat, open_storage
from tests.conftest import demo_spec_data


class FakeBooster:
    def __init__(self, rounds: int = 0) -> None:
        self.rounds = rounds

    def attributes(self) -> dict[str, str]:
        return {}

    def num_boosted_rounds(self) -> int:
        return self.rounds


def objective_value(params: dict[str, Any]) -> float:
    """A smooth function of the demo search space with its minimum inside the space."""
    return (
        (math.log(params["learning_rate"]) - math.log(0.1)) ** 2
        + (params["max_depth"] - 6) ** 2 / 10
        + (params["subsample"] - 0.8) ** 2
    )


def stepped_train(
    params: dict[str, Any],
    matrices: Matrices,
    num_boost_round: int,
    early_stopping_rounds: int | None,
    callbacks: Sequence[Any],
    seconds_per_round: float = 0.0,
) -> tuple[Any, float]:
    """Report the objective every round to the worker's callbacks (pruning, deadline)."""
    value = objective_value(params)
    for epoch in range(num_boost_round):
        if seconds_per_round:
            time.sleep(seconds_per_round)
        curve = value * (1 + 1 / (epoch + 1))
        model = FakeBooster(epoch + 1)
        for callback in callbacks:
            callback.after_iteration(model, epoch, {"valid": {params["eval_metric"]: [curve]}})
    return FakeBooster(), value


def slow_train(
    params: dict[str, Any],
    matrices: Matrices,
    num_boost_round: int,
    early_stopping_rounds: int | None,
    callbacks: Sequence[Any],
) -> tuple[Any, float]:
    return stepped_train(
        params, matrices, num_boost_round, early_stopping_rounds, callbacks, seconds_per_round=0.1
    )


def fails_above_lr_02(*args: Any) -> tuple[Any, float]:
    """Raises in one region of the search space, returns NaN in another."""
    params = args[0]
    if params["learning_rate"] > 0.2:
        raise ValueError(f"learning_rate {params['learning_rate']:.3f} diverges")
    if params["max_depth"] == 3:
        return FakeBooster(), float("nan")
    return stepped_train(*args)


def sleep_every_round(seconds: float) -> Any:
    """An XGBoost callback that makes each boosting round last at least ``seconds``."""
    import xgboost as xgb

    class Sleep(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            time.sleep(seconds)
            return False

    return Sleep()


def slow_xgboost(
    params: dict[str, Any],
    matrices: Matrices,
    num_boost_round: int,
    early_stopping_rounds: int | None,
    callbacks: Sequence[Any],
    **resume: Any,
) -> tuple[Any, float]:
    """The real fit, at least 5 ms a round: long enough to be killed in training."""
    slow = [*callbacks, sleep_every_round(0.005)]
    return fit(params, matrices, num_boost_round, early_stopping_rounds, slow, **resume)


TRAINERS = {
    "xgboost": fit,
    "slow_xgboost": slow_xgboost,
    "stepped": stepped_train,
    "slow": slow_train,
    "fails": fails_above_lr_02,
}


def tuning_spec_data(**tuning: Any) -> dict[str, Any]:
    """The demo spec with a pipeline name of its own (studies are per pipeline and ds)."""
    data = demo_spec_data(**tuning)
    data["name"] = f"t_{uuid.uuid4().hex[:12]}"
    return data


def worker_process(
    url: str,
    name: str,
    spec_data: dict[str, Any],
    dataset: str,
    map_index: int,
    trainer: str,
    partition: int = 0,
    attempt: int = 1,
    checkpoint_dir: str | None = None,
) -> dict[str, Any]:
    """One worker as a Spark task would run it, with a stand-in trainer."""
    spec = parse_spec(spec_data)
    identity = worker_identity(spec, map_index, partition, attempt)
    storage = open_storage(url, worker_heartbeat(spec))
    return run_worker(
        storage,
        {name: None},
        spec,
        dataset,
        identity,
        train=TRAINERS[trainer],
        checkpoint_dirs={None: Path(checkpoint_dir)} if checkpoint_dir else None,
    )


def complete_trials(storage: Any, spec: Any, ds: str, rows: list[dict[str, Any]]) -> None:
    """A finished study of ``spec`` for ``ds`` with one complete trial per row (params + value)."""
    study = optuna.create_study(
        study_name=study_name(spec.name, ds), storage=storage, direction="minimize"
    )
    distributions = {
        "max_depth": optuna.distributions.IntDistribution(1, 20),
        "learning_rate": optuna.distributions.FloatDistribution(0.001, 1.0, log=True),
        "subsample": optuna.distributions.FloatDistribution(0.1, 1.0),
        "colsample_bytree": optuna.distributions.FloatDistribution(0.1, 1.0),
        "min_child_weight": optuna.distributions.FloatDistribution(0.1, 50.0, log=True),
        "reg_lambda": optuna.distributions.FloatDistribution(0.0001, 100.0, log=True),
    }
    for row in rows:
        params = {k: v for k, v in row.items() if k != "value"}
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions=distributions, value=row["value"]
            )
        )


def heartbeat_of(spec_data: dict[str, Any]) -> Heartbeat:
    return worker_heartbeat(parse_spec(spec_data))
