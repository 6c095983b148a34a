"""The Optuna storage a run shares: opening it (MySQL or a journal file), the workers'
storages (heartbeats, a lean cache), the study as a sampler sees it (one read per trial,
a bounded history), retries through outages, stale-trial retries, and the one wall
behind which Retune uses Optuna's private names."""

from tasks.tuning.storage.backends import Heartbeat, open_storage
from tasks.tuning.storage.guard import StorageGuard
from tasks.tuning.storage.heartbeat import beat, heartbeat
from tasks.tuning.storage.optuna_private import trial_counts, trial_id_of, waiting_trial_ids
from tasks.tuning.storage.stale_retry import ensure_retry, fail_stale_trials, retried_numbers
from tasks.tuning.storage.study_window import StudyWindow, window_trials
from tasks.tuning.storage.urls import STORAGE_ENV, journal_url, mask_url
from tasks.tuning.storage.worker_storage import params_held, write_held_params

__all__ = [
    "STORAGE_ENV",
    "Heartbeat",
    "StorageGuard",
    "StudyWindow",
    "beat",
    "ensure_retry",
    "fail_stale_trials",
    "heartbeat",
    "journal_url",
    "mask_url",
    "open_storage",
    "params_held",
    "retried_numbers",
    "trial_counts",
    "trial_id_of",
    "waiting_trial_ids",
    "window_trials",
    "write_held_params",
]
