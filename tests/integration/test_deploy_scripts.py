"""docker/'s entrypoint scripts, run on the host as the compose stack runs them."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.mysql_support import BIN, DOCKER, mysql_root


@pytest.mark.mysql
def test_mysql_init_gives_each_database_its_own_least_privilege_user(mysql_admin: None) -> None:
    tag = uuid.uuid4().hex[:8]
    names = {"af": f"retune_af_{tag}", "op": f"retune_op_{tag}"}
    env = {
        **os.environ,
        "MYSQL_ADMIN_HOST": "127.0.0.1",
        "DB_USER_HOSTS": "localhost 127.0.0.1",
        "AIRFLOW_DB_NAME": names["af"],
        "AIRFLOW_DB_USER": names["af"],
        "AIRFLOW_DB_PASSWORD": "af'pass\\word",
        "OPTUNA_DB_NAME": names["op"],
        "OPTUNA_DB_USER": names["op"],
        "OPTUNA_DB_PASSWORD": "op-pass",
    }
    try:
        for _ in range(2):  # idempotent
            subprocess.run(
                [str(DOCKER / "mysql-init.sh")], env=env, check=True, capture_output=True
            )
        own = mysql_root(
            f"CREATE TABLE {names['op']}.t (x INT)",
            f"INSERT INTO {names['op']}.t VALUES (1)",
            user=names["op"],
            password="op-pass",
        )
        assert own.returncode == 0, own.stderr
        other = mysql_root(
            f"CREATE TABLE {names['af']}.t (x INT)", user=names["op"], password="op-pass"
        )
        assert other.returncode != 0 and "denied" in other.stderr
        # The password with a quote and a backslash arrived intact.
        assert mysql_root("SELECT 1", user=names["af"], password="af'pass\\word").returncode == 0
    finally:
        users = ", ".join(
            f"'{n}'@'{h}'" for n in names.values() for h in ("localhost", "127.0.0.1")
        )
        mysql_root(
            *(f"DROP DATABASE IF EXISTS {n}" for n in names.values()),
            f"DROP USER IF EXISTS {users}",
        )


def test_mysql_init_refuses_a_bad_database_name() -> None:
    env = {**os.environ, "OPTUNA_DB_PASSWORD": "x", "OPTUNA_DB_NAME": "x`; DROP DATABASE mysql"}
    done = subprocess.run([str(DOCKER / "mysql-init.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "bad name" in done.stderr


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "OPTUNA_DB", "SPARK_MASTER"))
    }
    return {**env, "PATH": f"{BIN}:{env['PATH']}", "AIRFLOW_HOME": str(home), **extra}


def test_airflow_init_renders_migrates_and_creates_the_connections(tmp_path: Path) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    env = airflow_env(
        tmp_path / "airflow",
        SPARK_MASTER_URL="spark://spark-master:7077",
        OPTUNA_DB_HOST="db.internal",
        OPTUNA_DB_PASSWORD=secret,
    )
    done = subprocess.run(
        ["sh", str(DOCKER / "airflow-init.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert secret not in done.stdout + done.stderr
    cfg = tmp_path / "airflow" / "airflow.cfg"
    assert cfg.stat().st_mode & 0o077 == 0  # it holds the JWT secret

    def connection(conn_id: str) -> dict[str, str]:
        shown = subprocess.run(
            [str(BIN / "airflow"), "connections", "get", conn_id, "-o", "json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return dict(json.loads(next(x for x in shown.stdout.splitlines() if x.startswith("[")))[0])

    spark = connection("spark_default")
    assert (spark["host"], str(spark["port"])) == ("spark://spark-master", "7077")
    optuna = connection("optuna_default")
    assert (optuna["conn_type"], optuna["host"], optuna["login"], optuna["schema"]) == (
        "mysql",
        "db.internal",
        "retune",
        "optuna",
    )
    assert optuna["password"] == secret and optuna["is_encrypted"] == "True"
    # Rerun (a restarted stack): same secrets kept, connections updated in place.
    again = subprocess.run(
        ["sh", str(DOCKER / "airflow-init.sh")],
        env={**env, "OPTUNA_DB_HOST": "db2"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert connection("optuna_default")["host"] == "db2"


def test_airflow_init_refuses_the_example_placeholders(tmp_path: Path) -> None:
    env = airflow_env(tmp_path / "airflow", AIRFLOW_JWT_SECRET="change-me")
    done = subprocess.run(
        ["sh", str(DOCKER / "airflow-init.sh")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2 and "AIRFLOW_JWT_SECRET is still change-me" in done.stderr
    assert not (tmp_path / "airflow" / "airflow.cfg").exists()
