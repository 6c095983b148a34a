"""The Airflow CLI wrapper tries again a command SQLite refused with its lock, and a backfill
whose runs the lock refused is created again once the scheduler has closed it."""

from __future__ import annotations

import os
import sqlite3
import sys
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


# An `airflow backfill create` against a SQLite file with Airflow's two backfill tables: the
# first call commits a backfill, then the lock refuses its runs; later calls are refused
# while a backfill is open, else write a backfill with its run.
FAKE_BACKFILL_CLI = """\
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
calls = db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
db.execute("INSERT INTO calls VALUES (1)")
db.commit()
if calls == 0:
    db.execute("INSERT INTO backfill (dag_id) VALUES ('d')")
    db.commit()
    sys.exit("sqlite3.OperationalError: database is locked")
if db.execute("SELECT id FROM backfill WHERE completed_at IS NULL").fetchall():
    sys.exit("AlreadyRunningBackfill: Another backfill is running for Dag d.")
backfill = db.execute("INSERT INTO backfill (dag_id) VALUES ('d')").lastrowid
db.execute("INSERT INTO backfill_dag_run (backfill_id) VALUES (?)", (backfill,))
db.commit()
"""


def airflow_db_with_backfills(home: Path) -> Path:
    db = home / "airflow.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE backfill (id INTEGER PRIMARY KEY, dag_id TEXT, completed_at TEXT);"
            "CREATE TABLE backfill_dag_run (id INTEGER PRIMARY KEY, backfill_id INTEGER);"
            "CREATE TABLE calls (n INTEGER);"
        )
    return db


def test_a_backfill_the_lock_left_without_runs_is_waited_out_and_created_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = airflow_db_with_backfills(tmp_path)
    (tmp_path / "cli.py").write_text(FAKE_BACKFILL_CLI)
    script = tmp_path / "airflow"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{tmp_path / "cli.py"}" "{db}"\n')
    script.chmod(0o755)
    monkeypatch.setattr(airflow_run, "BIN", tmp_path)
    closed: list[str] = []

    def scheduler_closes_orphans(seconds: float) -> None:
        if seconds != airflow_run.ORPHAN_POLL_SECONDS:
            return  # the CLI wrapper's own retry: the orphan is still open
        with sqlite3.connect(db) as conn:
            conn.execute(
                "UPDATE backfill SET completed_at = 'now' WHERE completed_at IS NULL AND NOT "
                "EXISTS (SELECT 1 FROM backfill_dag_run r WHERE r.backfill_id = backfill.id)"
            )
        closed.append("closed")

    monkeypatch.setattr(airflow_run.time, "sleep", scheduler_closes_orphans)
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    airflow_run.create_backfill(env, "d", "2026-01-01", "2026-01-02")
    with sqlite3.connect(db) as conn:
        backfills = conn.execute(
            "SELECT b.id, b.completed_at, COUNT(r.id) FROM backfill b "
            "LEFT JOIN backfill_dag_run r ON r.backfill_id = b.id GROUP BY b.id ORDER BY b.id"
        ).fetchall()
        calls = conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    # The orphan closed, the backfill made again with its run; 3 calls: locked, refused
    # while the orphan was open, created.
    assert backfills == [(1, "now", 0), (2, None, 1)]
    assert calls == 3 and closed

    # A backfill that has its runs is the user's to wait for: the refusal stands.
    with pytest.raises(SystemExit, match="AlreadyRunningBackfill"):
        airflow_run.create_backfill(env, "d", "2026-01-01", "2026-01-02")
