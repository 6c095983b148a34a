"""Retry storage bookkeeping through deadlocks, dropped connections and short outages.

An outage longer than the limit raises :class:`StorageUnreachable`; the study itself is
left as it was (every write is one transaction), so an Airflow retry resumes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tasks.core import StorageUnreachable
from tasks.tuning.storage.urls import mask_url

log = logging.getLogger(__name__)
T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """Deadlocks, lost connections and outages; not integrity or programming errors.

    Optuna wraps database errors in ``StorageInternalError``, sometimes two levels deep
    (a lost connection surfaces as SQLAlchemy's ``PendingRollbackError``), so the whole
    chain of causes is read.
    """
    import sqlalchemy.exc
    from optuna.exceptions import StorageInternalError

    transient = (
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        sqlalchemy.exc.PendingRollbackError,
        sqlalchemy.exc.DisconnectionError,
        ConnectionError,
    )
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    if any(isinstance(e, sqlalchemy.exc.IntegrityError) for e in chain):
        return False
    if any(isinstance(e, transient) for e in chain):
        return True
    return isinstance(exc, StorageInternalError) and len(chain) == 1


class StorageGuard:
    """Calls storage functions, retrying transient errors with backoff up to ``outage_seconds``."""

    def __init__(
        self,
        outage_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outage_seconds = outage_seconds
        self.sleep = sleep
        self.clock = clock
        self.retries = 0

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        first_failure: float | None = None
        delay = 0.25
        while True:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                reason = mask_url(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                now = self.clock()
                first_failure = now if first_failure is None else first_failure
                if now - first_failure >= self.outage_seconds:
                    raise StorageUnreachable(
                        f"Optuna storage unreachable for {self.outage_seconds:.0f}s while trying "
                        f"to {what}: {reason}. The study is intact: retry the task to resume it."
                    ) from None
                self.retries += 1
                log.warning(
                    "storage error while trying to %s, retrying in %.2fs: %s", what, delay, reason
                )
                self.sleep(delay)
                delay = min(delay * 2, 10.0)
