"""The private Optuna names behind ``tasks.tuning.storage.optuna_private`` still exist and
still mean what Retune relies on. An Optuna upgrade that changes one fails here, by name."""

from __future__ import annotations

import importlib
import inspect
import time

import optuna
import pytest

from tasks.tuning.storage.optuna_private import (
    PRIVATE_NAMES,
    BaseHeartbeat,
    stale_trial_ids,
    storage_beats,
    study_id_of,
    trial_id_of,
    trials_after,
    waiting_trial_ids,
)
from tasks.tuning.storage.worker_storage import HeartbeatJournalStorage, WorkerRDBStorage


def resolve(dotted: str) -> object:
    module, _, rest = dotted.partition(".")
    target: object = importlib.import_module(module)
    for part in rest.split("."):
        target = getattr(target, part, None) or importlib.import_module(f"{module}.{part}")
        module = f"{module}.{part}"
    return target


@pytest.mark.parametrize(("owner", "name"), PRIVATE_NAMES)
def test_each_private_name_still_exists(owner: str, name: str) -> None:
    holder = resolve(owner)
    gone = f"{owner}.{name} is gone (Optuna {optuna.__version__})"
    if name in ("_trial_id", "_study_id"):  # set in __init__; also read on instances below
        assert f"self.{name} = " in inspect.getsource(holder), gone  # type: ignore[arg-type]
        return
    assert hasattr(holder, name), gone


def test_the_heartbeat_interface_is_the_one_our_journal_storage_implements() -> None:
    assert BaseHeartbeat.__abstractmethods__ == {
        "record_heartbeat",
        "_get_stale_trial_ids",
        "get_heartbeat_interval",
        "get_heartbeat_stale_trial_callback",
    }
    assert not inspect.isabstract(HeartbeatJournalStorage)


def test_the_overridden_trial_read_keeps_its_signature() -> None:
    ours = inspect.signature(WorkerRDBStorage._get_trials)
    theirs = inspect.signature(optuna.storages.RDBStorage._get_trials)
    assert (
        list(ours.parameters)
        == list(theirs.parameters)
        == [
            "self",
            "study_id",
            "states",
            "included_trial_ids",
            "trial_id_greater_than",
        ]
    )


def test_ids_and_stale_trials_through_the_wall(tmp_path: object) -> None:
    from optuna.storages.journal import JournalFileBackend

    backend = JournalFileBackend(f"{tmp_path}/journal.log")
    storage = HeartbeatJournalStorage(
        backend, heartbeat_interval=1, grace_period=1, stale_trial_callback=None
    )
    study = optuna.create_study(study_name="wall", storage=storage)
    assert study_id_of(study) == storage.get_study_id_from_name("wall")
    trial = study.ask()
    frozen = storage.get_all_trials(study_id_of(study))[0]
    assert trial_id_of(frozen) == trial._trial_id
    assert storage_beats(storage) and not storage_beats(optuna.storages.InMemoryStorage())
    storage.record_heartbeat(trial_id_of(frozen))
    assert stale_trial_ids(storage, study_id_of(study)) == []
    time.sleep(1.2)
    assert stale_trial_ids(storage, study_id_of(study)) == [trial_id_of(frozen)]


@pytest.mark.parametrize("kind", ["rdb", "journal"])
def test_trials_after_a_trial_include_waiting_ones(tmp_path: object, kind: str) -> None:
    from optuna.storages.journal import JournalFileBackend

    storage: optuna.storages.BaseStorage
    if kind == "rdb":  # SQLite here; the same RDBStorage read as on MySQL
        storage = WorkerRDBStorage(f"sqlite:///{tmp_path}/optuna.db")
    else:
        storage = optuna.storages.JournalStorage(JournalFileBackend(f"{tmp_path}/journal.log"))
    study = optuna.create_study(study_name="after", storage=storage)
    for _ in range(3):
        study.tell(study.ask(), 1.0)
    study.enqueue_trial({"x": 1.0})
    first, second = storage.get_all_trials(study_id_of(study))[:2]
    later = trials_after(storage, study_id_of(study), second)
    assert [t.number for t in later] == [2, 3]
    assert later[-1].state == optuna.trial.TrialState.WAITING
    assert len(trials_after(storage, study_id_of(study), first)) == 3


def test_tpe_reads_trials_through_the_private_read_the_window_answers() -> None:
    """StudyWindow answers Study._get_trials: TPE must still read through it."""
    source = inspect.getsource(optuna.samplers.TPESampler)
    assert "study._get_trials(" in source


@pytest.mark.parametrize("kind", ["rdb", "journal"])
def test_waiting_trial_ids_are_the_oldest_first_and_limited(tmp_path: object, kind: str) -> None:
    from optuna.storages.journal import JournalFileBackend

    storage: optuna.storages.BaseStorage
    if kind == "rdb":
        storage = WorkerRDBStorage(f"sqlite:///{tmp_path}/optuna.db")
    else:
        storage = optuna.storages.JournalStorage(JournalFileBackend(f"{tmp_path}/journal.log"))
    study = optuna.create_study(study_name="queue", storage=storage)
    study.tell(study.ask(), 1.0)
    for _ in range(5):
        study.enqueue_trial({}, skip_if_exists=False)
    every = storage.get_all_trials(study_id_of(study), states=(optuna.trial.TrialState.WAITING,))
    ids = [trial_id_of(t) for t in every]
    assert waiting_trial_ids(storage, study_id_of(study), 3) == ids[:3]
    assert waiting_trial_ids(storage, study_id_of(study), 10) == ids


def test_the_overridden_param_write_keeps_its_signature() -> None:
    ours = inspect.signature(WorkerRDBStorage._set_trial_param)
    theirs = inspect.signature(optuna.storages.RDBStorage._set_trial_param)
    assert list(ours.parameters) == list(theirs.parameters)
    without_commit = inspect.signature(optuna.storages.RDBStorage._set_trial_param_without_commit)
    assert list(without_commit.parameters) == [
        "self",
        "session",
        "trial_id",
        "param_name",
        "param_value_internal",
        "distribution",
        "previous_distribution",
    ]


def test_held_parameters_are_written_all_or_none(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed while writing a trial's parameters must leave all of them or
    none: its stale retry repeats what it finds, and draws the rest anew."""
    from tasks.tuning.storage import params_held, write_held_params

    url = f"sqlite:///{tmp_path}/optuna.db"
    storage = WorkerRDBStorage(url)
    study = optuna.create_study(study_name="held", storage=storage)
    trial = study.ask()
    trial_id = trial._trial_id
    reader = optuna.storages.RDBStorage(url)

    def written() -> dict[str, object]:
        return reader.get_trial(trial_id).params

    with params_held(storage, trial_id):
        drawn = {name: trial.suggest_float(name, 0.0, 1.0) for name in ("a", "b", "c")}
    assert written() == {}

    real = optuna.storages.RDBStorage._set_trial_param_without_commit
    calls = []

    def killed_on_the_third(self: object, session: object, *args: object) -> None:
        calls.append(args[1])
        if len(calls) == 3:
            raise optuna.exceptions.StorageInternalError("connection lost")
        real(self, session, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(
        optuna.storages.RDBStorage, "_set_trial_param_without_commit", killed_on_the_third
    )
    with pytest.raises(optuna.exceptions.StorageInternalError):
        write_held_params(storage, trial_id)
    assert written() == {}  # the two before the failure were rolled back with it

    monkeypatch.setattr(optuna.storages.RDBStorage, "_set_trial_param_without_commit", real)
    write_held_params(storage, trial_id)  # still held: the retry writes them
    assert written() == drawn

    # A commit whose answer was lost is retried: the duplicate is ignored, nothing doubles.
    unit = optuna.distributions.FloatDistribution(0.0, 1.0)
    storage._held[trial_id] = [("a", drawn["a"], unit, None)]
    write_held_params(storage, trial_id)
    assert written() == drawn
    assert storage._held == {}

    # A suggestion that fails inside the hold leaves nothing held, and nothing written.
    failing = study.ask()
    with pytest.raises(ValueError), params_held(storage, failing._trial_id):
        failing.suggest_float("a", 0.0, 1.0)
        raise ValueError("the sampler failed")
    assert storage._held == {} and reader.get_trial(failing._trial_id).params == {}

    # Outside a hold, a parameter is written at once, as Optuna does.
    later = study.ask()
    later.suggest_float("a", 0.0, 1.0)
    assert list(reader.get_trial(later._trial_id).params) == ["a"]
