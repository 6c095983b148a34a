"""Search space -> Optuna suggestions. Kept apart from training and storage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasks.core import CategoricalParam, FloatParam, IntParam

if TYPE_CHECKING:
    from collections.abc import Mapping

    import optuna

    from tasks.core import Param


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


def contains(param: Param, value: Any) -> bool:
    """Whether ``value`` is a point of ``param``'s range (used to reuse old parameters)."""
    if isinstance(param, CategoricalParam):
        return value in param.choices
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(param, IntParam) and float(value) != int(value):
        return False
    return param.low <= value <= param.high


def fits(space: Mapping[str, Param], params: Mapping[str, Any]) -> bool:
    """Whether a whole parameter set is a point of ``space`` (same names, values in range)."""
    return set(params) == set(space) and all(contains(space[n], v) for n, v in params.items())
