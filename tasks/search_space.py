"""Search space -> Optuna suggestions. Kept apart from training and storage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasks.spec import CategoricalParam, FloatParam, IntParam

if TYPE_CHECKING:
    from collections.abc import Mapping

    import optuna

    from tasks.spec import Param


def suggest(trial: optuna.Trial, space: Mapping[str, Param]) -> dict[str, Any]:
    """Ask ``trial`` for one value per parameter of ``space``."""
    params: dict[str, Any] = {}
    for name, param in space.items():
        if isinstance(param, FloatParam):
            params[name] = trial.suggest_float(name, param.low, param.high, log=param.log)
        elif isinstance(param, IntParam):
            params[name] = trial.suggest_int(name, param.low, param.high, log=param.log)
        elif isinstance(param, CategoricalParam):
            params[name] = trial.suggest_categorical(name, param.choices)
    return params
