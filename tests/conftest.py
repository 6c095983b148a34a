"""Shared fixtures: demo spec, a session-scoped local SparkSession, the test MySQL URL."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.mysql_support import mysql_root

ROOT = Path(__file__).resolve().parents[1]
DEMO_SPEC = ROOT / "dags" / "specs" / "demo_regression.yaml"
MYSQL_ENV = "RETUNE_TEST_MYSQL_URL"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# Spark JVMs tuned for short jobs on small data (tests/spark_conf/spark-defaults.conf);
# every Spark a test starts inherits it, the e2e suite's Airflow and its tasks included.
os.environ.setdefault("SPARK_CONF_DIR", str(Path(__file__).resolve().parent / "spark_conf"))
# Keep Airflow's files for tests out of ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="retune-airflow-home-"))


def demo_spec_data(**tuning: Any) -> dict[str, Any]:
    """The demo spec as a dict, with fast tuning settings for tests."""
    data: dict[str, Any] = yaml.safe_load(DEMO_SPEC.read_text())
    data["tuning"].update({"num_boost_round": 20, "early_stopping_rounds": 5, **tuning})
    data["validation"]["min_rows"] = 100
    data["gpu"] = "off"
    return data


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("retune-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """URL of the test database; skips without MySQL, except under CI=true where it fails."""
    return reachable_mysql_url(MYSQL_ENV)


def reachable_mysql_url(env: str) -> str:
    """The URL in ``env`` once it answers; else skip (fail under CI=true)."""
    url = os.environ.get(env)
    reason = f"{env} is not set (run the tests with scripts/with_test_mysql.sh)"
    if url:
        import sqlalchemy

        try:
            sqlalchemy.create_engine(url).connect().close()
        except Exception as exc:
            reason = f"MySQL at {env} is unreachable: {str(exc).splitlines()[0]}"
            url = None
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"MySQL tests must run in CI: {reason}")
        pytest.skip(f"MySQL tests skipped: {reason}")
    return url


def required_program(*names: str, debian_package: str) -> str:
    """The first of ``names`` on PATH; without one, skip (fail under CI=true, where
    .ci/run installs ``debian_package``)."""
    import shutil

    for name in names:
        found = shutil.which(name)
        if found:
            return found
    message = f"{names[0]} is not installed (Debian: apt-get install {debian_package})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; .ci/run installs it")
    pytest.skip(message)


BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture
def chromium() -> str:
    """Debian's headless Chromium (installed by .ci/run where missing)."""
    return required_program(*BROWSERS, debian_package="chromium")


@pytest.fixture
def mysql_admin() -> None:
    """The local server answers as root (skip without one, fail under CI=true)."""
    import shutil

    if shutil.which("mysql") is None or mysql_root("SELECT 1").returncode != 0:
        message = "no MySQL server answers as root on 127.0.0.1 (mysql-init.sh needs an admin)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
