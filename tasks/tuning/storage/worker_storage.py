"""The storages a tuning worker opens: heartbeats on both kinds, and a lean MySQL read.

Optuna's RDBStorage (MySQL) has heartbeats built in; its JournalStorage does not. The
journal version records the beat as a trial system attr, so Optuna's own
``fail_stale_trials`` and stale-trial callback work the same on both storages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container
from typing import TYPE_CHECKING

from optuna.storages import JournalStorage, RDBStorage
from optuna.trial import TrialState

from tasks.tuning.storage.optuna_private import BaseHeartbeat, trial_id_of

if TYPE_CHECKING:
    import optuna
    from optuna.storages.journal import BaseJournalBackend
    from optuna.trial import FrozenTrial

HEARTBEAT_ATTR = "retune:heartbeat"


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """JournalStorage whose trials carry a heartbeat (wall-clock seconds of one host)."""

    def __init__(
        self,
        backend: BaseJournalBackend,
        heartbeat_interval: int,
        grace_period: int,
        stale_trial_callback: Callable[[optuna.Study, FrozenTrial], None] | None,
    ) -> None:
        super().__init__(backend)
        self._heartbeat_interval = heartbeat_interval
        self._grace_period = grace_period
        self._stale_trial_callback = stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

    # Private in Optuna: the abstract method of BaseHeartbeat that finds stale trials.
    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        limit = time.time() - self._grace_period
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        return [
            trial_id_of(t)
            for t in running
            if HEARTBEAT_ATTR in t.system_attrs and t.system_attrs[HEARTBEAT_ATTR] < limit
        ]

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(
        self,
    ) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return self._stale_trial_callback


class WorkerRDBStorage(RDBStorage):
    """RDBStorage whose cache refresh skips WAITING trials.

    The budget waits in the study as WAITING trials, and Optuna's storage cache re-reads
    every unfinished trial each time the sampler looks at the study: with 40 waiting
    trials that is about 30 ms per look on MySQL (measured in bench/). A sampler never
    needs a waiting trial, so the worker's cache does not read them.

    Sound because of how Retune claims: workers claim waiting trials in increasing id
    order, so no trial is still waiting when a trial with a higher id has finished,
    and the cache (which re-reads ids above the last finished one) sees every trial
    once it runs; the worker reads the running trials right after each claim, so the
    cache knows the claimed trial before anything is written to it. Reads that name
    their states (the claim, ``has_running``) are as is.
    """

    _SEEN = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

    # Private in Optuna: the one read behind the storage cache; overridden, not called.
    def _get_trials(
        self,
        study_id: int,
        states: Container[TrialState] | None,
        included_trial_ids: set[int],
        trial_id_greater_than: int,
    ) -> list[FrozenTrial]:
        return super()._get_trials(
            study_id,
            self._SEEN if states is None else states,
            included_trial_ids,
            trial_id_greater_than,
        )
