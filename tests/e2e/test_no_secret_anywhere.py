"""Secrets stay secret across every run of the session: the Optuna database's password is
nowhere Airflow or Retune wrote. This file runs last (conftest's FILE_ORDER)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tasks.core import CARD_FILE
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.mysql]


def test_the_mysql_password_is_in_no_log_xcom_report_or_card(
    stack: Stack, scheduled_run: dict[str, Any], mysql_url: str
) -> None:
    """After every run of the session (this file runs last; alone, after the scheduled
    run): the Optuna database's password is
    in no task log, no row of Airflow's database (XComs, rendered fields, run confs; the
    connection holds it Fernet-encrypted), no file under the storage root (reports, model
    cards, Data Docs, timings), and the logged spark-submit commands do not carry it."""
    password = make_url(mysql_url).password
    assert password and len(password) >= 16
    ds = str(scheduled_run["logical_date"])[:10]
    logs = sorted(stack.logs.rglob("*.log"))
    assert len(logs) > 20
    submits = []
    for log in logs:
        text = log.read_text(errors="replace")
        assert password not in text, log
        submits += [line for line in text.splitlines() if "Spark-Submit cmd" in line]
    assert any("tune_job.py" in line for line in submits)
    assert any("export_job.py" in line for line in submits)

    tables = [name for (name,) in stack.query("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:
        for row in stack.query(f'SELECT * FROM "{table}"'):
            assert password not in repr(row), table
    (login,) = stack.query("SELECT login FROM connection WHERE conn_id = 'optuna_default'")
    assert login == (make_url(mysql_url).username,)
    assert len(stack.xcoms("export", ds)) >= 1

    files = [p for p in stack.storage.rglob("*") if p.is_file() and "raw" not in p.parts]
    assert any(p.name == CARD_FILE for p in files) and any(p.suffix == ".html" for p in files)
    for path in files:
        assert password.encode() not in path.read_bytes(), path
