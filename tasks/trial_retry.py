"""Retry a failed trial with the same parameters, at most ``max_retry`` times.

Follows the convention of Optuna's ``RetryHeartbeatStaleTrialCallback`` (system attrs
``failed_trial`` and ``retry_history``), so Optuna's own helpers read our retries, and
adds the reason as user attrs so a person can see why a trial was run again.

Budget accounting: a failed trial that was retried is replaced by its retry, so the
trials that count against the budget are complete + pruned + failed-for-good.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.worker_storage import HEARTBEAT_ATTR

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

STALE_REASON = "stale heartbeat: the worker stopped reporting (killed, lost or hung)"


def retry_history(trial: FrozenTrial) -> list[int]:
    return list(trial.system_attrs.get("retry_history", []))


def enqueue_retry(study: optuna.Study, trial: FrozenTrial, reason: str, max_retry: int) -> bool:
    """Enqueue ``trial``'s parameters again as a WAITING trial; False when retries are spent."""
    import optuna

    history = [*retry_history(trial), trial.number]
    if len(history) > max_retry:
        return False
    system_attrs = {k: v for k, v in trial.system_attrs.items() if k != HEARTBEAT_ATTR}
    system_attrs.update({"failed_trial": history[0], "retry_history": history})
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs={"retry_of": trial.number, "retry_reason": reason},
            system_attrs=system_attrs,
        )
    )
    return True


class StaleTrialRetry:
    """Heartbeat-stale callback of the storage: retry the trial a lost worker was running."""

    def __init__(self, max_retry: int) -> None:
        self.max_retry = max_retry

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        enqueue_retry(study, trial, STALE_REASON, self.max_retry)


def retried_numbers(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of the failed trials that a later trial retries."""
    return {number for trial in trials for number in retry_history(trial)}
