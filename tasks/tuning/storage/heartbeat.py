"""The heartbeat of a running trial: one beat before the claim, then a beat thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tasks.tuning.storage.optuna_private import BaseHeartbeat

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

log = logging.getLogger(__name__)


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
