"""Optuna storage from a URL: MySQL (RDB) in production, a journal file when embedded."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import StorageUnreachable
from tasks.tuning.storage.urls import JOURNAL_PREFIX, mask_url

if TYPE_CHECKING:
    from optuna.storages import BaseStorage


@dataclass(frozen=True)
class Heartbeat:
    """Heartbeat settings of a worker's storage: stale after ``grace_seconds`` of silence."""

    interval_seconds: int
    grace_seconds: int
    max_retry: int


def open_storage(url: str, heartbeat: Heartbeat | None = None) -> BaseStorage:
    """Open the storage behind ``url``; an unreachable one raises :class:`StorageUnreachable`.

    With ``heartbeat``, trials of a lost worker turn stale and are retried. Workers open
    the storage that way; they also skip the schema check and table creation, which the
    Airflow side did when it created the study (it saves each worker a second or more).
    """
    import optuna
    from optuna.storages.journal import JournalFileBackend

    from tasks.tuning.storage.stale_retry import StaleTrialRetry
    from tasks.tuning.storage.worker_storage import HeartbeatJournalStorage, WorkerRDBStorage

    beats: dict[str, Any] = {}
    if heartbeat is not None:
        beats = {
            "skip_compatibility_check": True,
            "skip_table_creation": True,
            "heartbeat_interval": heartbeat.interval_seconds,
            "grace_period": heartbeat.grace_seconds,
            "heartbeat_stale_trial_callback": StaleTrialRetry(heartbeat.max_retry),
        }

    if url.startswith(JOURNAL_PREFIX):
        path = Path(url[len(JOURNAL_PREFIX) :])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            backend = JournalFileBackend(str(path))
        except OSError as exc:
            raise StorageUnreachable(f"Optuna journal {path} is not writable: {exc}") from None
        if heartbeat is None:
            return optuna.storages.JournalStorage(backend)
        return HeartbeatJournalStorage(
            backend,
            heartbeat.interval_seconds,
            heartbeat.grace_seconds,
            StaleTrialRetry(heartbeat.max_retry),
        )
    if url.startswith("mysql"):
        try:
            with warnings.catch_warnings():
                # The heartbeat is marked experimental; Retune pins Optuna and tests it.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage_class = (
                    optuna.storages.RDBStorage if heartbeat is None else WorkerRDBStorage
                )
                return storage_class(
                    url,
                    engine_kwargs={"pool_pre_ping": True, "pool_recycle": 3600},
                    **beats,
                )
        except Exception as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise StorageUnreachable(
                f"Optuna storage unreachable: MySQL at {mask_url(url)}: {mask_url(reason)}"
            ) from None
    raise StorageUnreachable(
        f"Optuna storage URL {mask_url(url)!r} is neither mysql+pymysql://... nor "
        f"{JOURNAL_PREFIX}/path"
    )
