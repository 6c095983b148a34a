"""Retry a failed trial with the same parameters, at most ``max_retry`` times.

Follows the convention of Optuna's ``RetryHeartbeatStaleTrialCallback`` (system attrs
``failed_trial`` and ``retry_history``), so Optuna's own helpers read our retries, and
adds the reason as user attrs so a person can see why a trial was run again.

Budget accounting: a failed trial that was retried is replaced by its retry, so the
trials that count against the budget are complete + pruned + failed-for-good.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.tuning.storage.optuna_private import (
    stale_trial_ids,
    storage_beats,
    study_id_of,
    trials_after,
)
from tasks.tuning.storage.worker_storage import HEARTBEAT_ATTR

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

    from tasks.tuning.storage.guard import StorageGuard

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


def has_retry(storage: BaseStorage, study_id: int, trial: FrozenTrial) -> bool:
    """Whether a trial retries ``trial``; ``storage`` is the uncached one, which also reads
    WAITING trials. A retry is always added after the trial, so only later ones are read."""
    return any(trial.number in retry_history(t) for t in trials_after(storage, study_id, trial))


def ensure_retry(
    storage: BaseStorage, study: optuna.Study, trial: FrozenTrial, reason: str, max_retry: int
) -> bool:
    """:func:`enqueue_retry`, once: called again after a write that may have landed (a
    dropped connection), it finds that retry instead of adding a second one."""
    if has_retry(storage, study_id_of(study), trial):
        return True
    return enqueue_retry(study, trial, reason, max_retry)


def fail_stale_trials(
    storage: BaseStorage, study: optuna.Study, guard: StorageGuard, max_retry: int
) -> int:
    """Optuna's ``fail_stale_trials`` with the retry of :class:`StaleTrialRetry`, safe
    against dropped connections; the number of trials failed.

    Optuna's version loses the retry when the write that fails a trial lands but its
    answer does not: tried again, the trial is no longer stale. Here a write that failed
    once and then finds the trial finished still makes sure the retry exists.
    """
    import optuna
    from optuna.trial import TrialState

    if not storage_beats(storage):
        return 0
    failed = 0
    stale = guard.call("find stale trials", stale_trial_ids, storage, study_id_of(study))
    for trial_id in stale:
        attempts = 0

        def fail_it(trial_id: int = trial_id) -> bool:
            nonlocal attempts
            attempts += 1
            try:
                return storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                return False  # another worker failed it, or this one's first write landed

        if not guard.call("fail a stale trial", fail_it) and attempts == 1:
            continue
        trial = guard.call("read the stale trial", storage.get_trial, trial_id)
        if trial.state != TrialState.FAIL:
            continue
        failed += 1
        guard.call("enqueue a retry", ensure_retry, storage, study, trial, STALE_REASON, max_retry)
    return failed


class StaleTrialRetry:
    """Heartbeat-stale callback of the storage: retry the trial a lost worker was running.

    For Optuna's own ``fail_stale_trials`` (``study.optimize`` calls it); Retune's workers
    call :func:`fail_stale_trials`, which retries the same way.
    """

    def __init__(self, max_retry: int) -> None:
        self.max_retry = max_retry

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        enqueue_retry(study, trial, STALE_REASON, self.max_retry)


def retried_numbers(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of the failed trials that a later trial retries."""
    return {number for trial in trials for number in retry_history(trial)}
