"""Heartbeats for the embedded journal storage, and a heartbeat thread for one trial.

Optuna's RDBStorage (MySQL) has heartbeats built in; its JournalStorage does not. The
journal version records the beat as a trial system attr, so Optuna's own
``fail_stale_trials`` and stale-trial callback work the same on both storages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from optuna.storages import JournalStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import TrialState

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage
    from optuna.storages.journal import BaseJournalBackend
    from optuna.trial import FrozenTrial

log = logging.getLogger(__name__)

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

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        limit = time.time() - self._grace_period
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        return [
            t._trial_id
            for t in running
            if HEARTBEAT_ATTR in t.system_attrs and t.system_attrs[HEARTBEAT_ATTR] < limit
        ]

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(
        self,
    ) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return self._stale_trial_callback


def beat(storage: BaseStorage, trial_id: int, quiet: bool = False) -> bool:
    """Record one heartbeat; a failure is logged, not raised (the next beat may succeed).

    ``quiet`` for the beat before a claim, where two workers racing for one trial may
    both try to insert its first heartbeat row.
    """
    if not isinstance(storage, BaseHeartbeat) or storage.get_heartbeat_interval() is None:
        return False
    try:
        storage.record_heartbeat(trial_id)
        return True
    except Exception as exc:
        log.log(
            logging.DEBUG if quiet else logging.WARNING,
            "heartbeat of trial id %d not recorded: %s",
            trial_id,
            exc,
        )
        return False


@contextmanager
def heartbeat(storage: BaseStorage, trial_id: int, interval: float) -> Iterator[None]:
    """Beat for ``trial_id`` every ``interval`` seconds while the block runs."""
    stop = threading.Event()

    def loop(*_: Any) -> None:
        while not stop.wait(interval):
            beat(storage, trial_id)

    thread = threading.Thread(target=loop, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
