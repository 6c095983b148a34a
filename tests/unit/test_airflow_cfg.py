"""The rendered airflow.cfg: what every Airflow component on this machine reads."""

from __future__ import annotations

import configparser
from pathlib import Path

from sqlalchemy import create_engine

from scripts.render_airflow_cfg import SECRETS, render
from tests.conftest import ROOT


def rendered(tmp_path: Path) -> configparser.ConfigParser:
    env = {"AIRFLOW_HOME": str(tmp_path), **{name: "unused" for name in SECRETS}}
    text = render((ROOT / "airflow.cfg.template").read_text(), env)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_the_default_sqlite_database_waits_for_a_lock_instead_of_failing(tmp_path: Path) -> None:
    # The scheduler, the DAG processor, the API server and CLI commands write the one
    # SQLite file; a writer waits for the lock up to 60 s, not the driver's 5 s.
    url = rendered(tmp_path).get("database", "sql_alchemy_conn")
    engine = create_engine(url)
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    assert engine.url.database == str(tmp_path / "airflow.db")
    assert kwargs["timeout"] >= 60
    with engine.connect() as connection:  # the query string is not taken for part of the path
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    assert (tmp_path / "airflow.db").is_file()
