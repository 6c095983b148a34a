"""Every private Optuna name Retune uses, behind one wall, each with why.

Optuna (pinned in pyproject.toml) has no public API for these. An upgrade that
renames or changes one fails ``tests/unit/tasks/tuning/storage/test_optuna_private.py`` loudly,
naming the name, instead of failing a worker at run time. No module outside
``tasks.tuning.storage`` uses a private Optuna name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Optuna's heartbeat interface: the base class its RDBStorage implements. Retune gives
# JournalStorage heartbeats by implementing it too (HeartbeatJournalStorage), and asks
# whether a storage beats before recording or reading beats.
from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled

if TYPE_CHECKING:
    from collections.abc import Sequence

    import optuna
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial, TrialState

__all__ = [
    "BaseHeartbeat",
    "is_heartbeat_enabled",
    "stale_trial_ids",
    "study_id_of",
    "trial_counts",
    "trial_id_of",
    "trials_after",
    "waiting_trial_ids",
]

# What the wall relies on, checked by the test: a class or module, the private name.
PRIVATE_NAMES = (
    ("optuna.storages._heartbeat", "BaseHeartbeat"),
    ("optuna.storages._heartbeat", "is_heartbeat_enabled"),
    ("optuna.storages._heartbeat.BaseHeartbeat", "_get_stale_trial_ids"),
    ("optuna.storages.RDBStorage", "_get_trials"),
    ("optuna.storages.RDBStorage", "_set_trial_param"),
    ("optuna.storages.RDBStorage", "_set_trial_param_without_commit"),
    ("optuna.Study", "_get_trials"),
    ("optuna.storages._rdb.models", "TrialModel"),
    ("optuna.storages._rdb.storage", "_create_scoped_session"),
    ("optuna.trial.FrozenTrial", "_trial_id"),
    ("optuna.Study", "_study_id"),
)


def trial_id_of(trial: FrozenTrial) -> int:
    """The storage's id of a trial: every storage call takes it, and a FrozenTrial has
    no public accessor (``number`` is per study, not the storage key)."""
    return int(trial._trial_id)


def study_id_of(study: optuna.Study) -> int:
    """The storage's id of a study, without the round trip of
    ``get_study_id_from_name``."""
    return int(study._study_id)


def trials_after(storage: BaseStorage, study_id: int, trial: FrozenTrial) -> list[FrozenTrial]:
    """The trials of every state added to the study after ``trial``: on MySQL, the storage's
    own read by trial id (``RDBStorage._get_trials``), not a read of the whole study."""
    from optuna.storages import RDBStorage
    from optuna.trial import TrialState

    if isinstance(storage, RDBStorage):
        return storage._get_trials(study_id, tuple(TrialState), set(), trial_id_of(trial))
    return [t for t in storage.get_all_trials(study_id, deepcopy=False) if t.number > trial.number]


def waiting_trial_ids(
    storage: BaseStorage, study_id: int, limit: int, above_id: int = -1
) -> list[int]:
    """The ids of the first ``limit`` WAITING trials with an id above ``above_id``, oldest
    first. On MySQL one query of ids on Optuna's own tables, so a long waiting queue costs
    nothing to look into (the public read loads every waiting trial with its attributes);
    ``above_id`` lets it start past the trials already claimed instead of scanning them."""
    from optuna.storages import RDBStorage
    from optuna.trial import TrialState

    if isinstance(storage, RDBStorage):
        from optuna.storages._rdb.models import TrialModel
        from optuna.storages._rdb.storage import _create_scoped_session

        with _create_scoped_session(storage.scoped_session) as session:
            rows = (
                session.query(TrialModel.trial_id)
                .filter(
                    TrialModel.study_id == study_id,
                    TrialModel.state == TrialState.WAITING,
                    TrialModel.trial_id > above_id,
                )
                .order_by(TrialModel.trial_id)
                .limit(limit)
                .all()
            )
        return [int(row[0]) for row in rows]
    waiting = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,))
    return [trial_id_of(t) for t in waiting if trial_id_of(t) > above_id][:limit]


def trial_counts(
    storage: BaseStorage, study_ids: Sequence[int], state: TrialState | None = None
) -> dict[int, int]:
    """How many trials in ``state`` (default WAITING) each of ``study_ids`` has (0 for
    none). On MySQL one grouped count on Optuna's own tables, whatever the number of
    studies."""
    from optuna.storages import RDBStorage
    from optuna.trial import TrialState

    state = TrialState.WAITING if state is None else state
    counts = dict.fromkeys(study_ids, 0)
    if not counts:
        return counts
    if isinstance(storage, RDBStorage):
        from optuna.storages._rdb.models import TrialModel
        from optuna.storages._rdb.storage import _create_scoped_session
        from sqlalchemy import func

        with _create_scoped_session(storage.scoped_session) as session:
            rows = (
                session.query(TrialModel.study_id, func.count(TrialModel.trial_id))
                .filter(TrialModel.study_id.in_(list(counts)), TrialModel.state == state)
                .group_by(TrialModel.study_id)
                .all()
            )
        counts.update((int(study_id), int(n)) for study_id, n in rows)
        return counts
    for study_id in counts:
        counts[study_id] = len(storage.get_all_trials(study_id, deepcopy=False, states=(state,)))
    return counts


def stale_trial_ids(storage: BaseHeartbeat, study_id: int) -> list[int]:
    """The RUNNING trials whose heartbeat is older than the grace period: the query
    Optuna's own ``fail_stale_trials`` makes, which Retune runs itself so that a lost
    answer to a write never loses a retry (see ``stale_retry.fail_stale_trials``)."""
    return list(storage._get_stale_trial_ids(study_id))


def storage_beats(storage: BaseStorage) -> bool:
    """Whether ``storage`` records heartbeats (a heartbeat storage with an interval set)."""
    return isinstance(storage, BaseHeartbeat) and is_heartbeat_enabled(storage)
