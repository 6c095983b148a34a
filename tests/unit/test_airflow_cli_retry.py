"""The Airflow CLI wrapper tries again a command SQLite refused with its lock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts import airflow_run


def fake_airflow(folder: Path, failures: int, message: str) -> Path:
    """An `airflow` that fails ``failures`` times with ``message``, then succeeds; each
    call appends a line to ``calls``."""
    calls = folder / "calls"
    script = folder / "airflow"
    script.write_text(
        "#!/bin/sh\n"
        f'echo call >> "{calls}"\n'
        f'if [ "$(wc -l < "{calls}")" -le {failures} ]; then echo "{message}" >&2; exit 1; fi\n'
        'echo "created"\n'
    )
    script.chmod(0o755)
    return calls


def test_a_locked_command_is_tried_again_and_other_failures_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(airflow_run, "BIN", tmp_path)
    monkeypatch.setattr(airflow_run.time, "sleep", lambda _: None)
    env = dict(os.environ)
    locked = "sqlite3.OperationalError: database is locked"

    calls = fake_airflow(tmp_path, failures=2, message=locked)
    assert airflow_run.airflow(env, "backfill", "create", capture=True).strip() == "created"
    assert len(calls.read_text().splitlines()) == 3

    calls.unlink()
    calls = fake_airflow(tmp_path, failures=1, message="DAG not found")
    with pytest.raises(SystemExit, match="DAG not found"):
        airflow_run.airflow(env, "backfill", "create", capture=True)
    assert len(calls.read_text().splitlines()) == 1

    calls.unlink()
    calls = fake_airflow(tmp_path, failures=99, message=locked)
    with pytest.raises(SystemExit, match="database is locked"):
        airflow_run.airflow(env, "dags", "trigger", "x", capture=True)
    assert len(calls.read_text().splitlines()) == airflow_run.LOCKED_RETRIES + 1


def test_a_backfill_whose_locked_attempt_landed_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt wrote the backfill, then hit the lock: the retry finds it running."""
    monkeypatch.setattr(airflow_run, "BIN", tmp_path)
    monkeypatch.setattr(airflow_run.time, "sleep", lambda _: None)
    env = dict(os.environ)
    calls = tmp_path / "calls"
    script = tmp_path / "airflow"
    script.write_text(
        "#!/bin/sh\n"
        f'echo call >> "{calls}"\n'
        f'if [ "$(wc -l < "{calls}")" -le 1 ]; then echo "database is locked" >&2; exit 1; fi\n'
        'echo "AlreadyRunningBackfill: Another backfill is running" >&2; exit 1\n'
    )
    script.chmod(0o755)
    airflow_run.airflow(env, "backfill", "create", "--dag-id", "d", capture=True)
    assert len(calls.read_text().splitlines()) == 2
    calls.unlink()
    # Without a locked attempt first, a running backfill is the user's error.
    script.write_text(
        "#!/bin/sh\n"
        f'echo call >> "{calls}"\n'
        'echo "AlreadyRunningBackfill: Another backfill is running" >&2; exit 1\n'
    )
    with pytest.raises(SystemExit, match="AlreadyRunningBackfill"):
        airflow_run.airflow(env, "backfill", "create", "--dag-id", "d", capture=True)
