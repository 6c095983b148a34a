"""The storages a tuning worker opens: heartbeats on both kinds, and a lean MySQL read.

Optuna's RDBStorage (MySQL) has heartbeats built in; its JournalStorage does not. The
journal version records the beat as a trial system attr, so Optuna's own
``fail_stale_trials`` and stale-trial callback work the same on both storages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from optuna.storages import JournalStorage, RDBStorage
from optuna.trial import TrialState

from tasks.tuning.storage.optuna_private import BaseHeartbeat, trial_id_of

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.storages import BaseStorage
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
    their states (the claim, the count of running trials) are as is.
    """

    _SEEN = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Parameters suggested while held: trial id -> the arguments of each write.
        self._held: dict[int, list[tuple[Any, ...]]] = {}

    # Private in Optuna: what its storage cache calls for each suggested parameter.
    def _set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: BaseDistribution,
        previous_distribution: BaseDistribution | None,
    ) -> None:
        held = self._held.get(trial_id)
        if held is None:
            super()._set_trial_param(
                trial_id, param_name, param_value_internal, distribution, previous_distribution
            )
            return
        held.append((param_name, param_value_internal, distribution, previous_distribution))

    def write_held_params(self, trial_id: int) -> None:
        """Write the parameters held for ``trial_id`` in one transaction: a worker killed
        while writing them leaves all of them or none. They stay held until written, so a
        retry after a failed commit writes them again; a commit whose answer was lost
        left all of them, and the retry's duplicate is ignored, as Optuna does."""
        from optuna.storages._rdb.storage import _create_scoped_session

        held = self._held.get(trial_id)
        if held:
            with _create_scoped_session(self.scoped_session, True) as session:
                for args in held:
                    self._set_trial_param_without_commit(session, trial_id, *args)
        self._held.pop(trial_id, None)

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


@contextmanager
def params_held(storage: BaseStorage, trial_id: int) -> Iterator[None]:
    """Hold the parameters suggested for ``trial_id`` inside the block, to be written
    together by :func:`write_held_params`. A no-op on a storage that cannot hold them
    (the journal writes each parameter as one line)."""
    if not isinstance(storage, WorkerRDBStorage):
        yield
        return
    storage._held.setdefault(trial_id, [])
    try:
        yield
    except BaseException:
        storage._held.pop(trial_id, None)  # nothing is written for a suggestion that failed
        raise


def write_held_params(storage: BaseStorage, trial_id: int) -> None:
    """Write what :func:`params_held` held for ``trial_id``, in one transaction."""
    if isinstance(storage, WorkerRDBStorage):
        storage.write_held_params(trial_id)
