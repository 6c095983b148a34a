"""Where things are: Spark master, Optuna storage and storage root, from Airflow config.

Operators hold these hooks (as the Spark provider's operators hold theirs) rather than
inherit what each stage needs."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

DEFAULT_MASTER = "local[*]"
STORAGE_ROOT_ENV = "RETUNE_STORAGE_ROOT"
DEFAULT_STORAGE_ROOT = "var/storage"


def connection_or_none(conn_id: str) -> Any:
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def resolve_storage_root(explicit: str | None = None) -> str:
    """Operator argument, else $RETUNE_STORAGE_ROOT, else ./var/storage; always absolute."""
    root = explicit or os.environ.get(STORAGE_ROOT_ENV) or DEFAULT_STORAGE_ROOT
    return str(Path(root).resolve())


def optuna_storage_url(conn_id: str, storage_root: str) -> tuple[str, str]:
    """(URL, kind): MySQL from connection ``conn_id`` if it exists, else the embedded journal."""
    from sqlalchemy.engine import URL

    from tasks.core import journal_path
    from tasks.tuning.storage import journal_url

    conn = connection_or_none(conn_id)
    if conn is None:
        return journal_url(journal_path(storage_root)), "journal"
    if conn.conn_type != "mysql":
        raise ValueError(f"connection {conn_id} must be of type mysql, not {conn.conn_type!r}")
    url = URL.create(
        "mysql+pymysql",
        username=conn.login,
        password=conn.password,
        host=conn.host or "127.0.0.1",
        port=conn.port or 3306,
        database=conn.schema or "optuna",
    )
    return url.render_as_string(hide_password=False), "mysql"


class RetuneSparkSubmitHook(SparkSubmitHook):
    """The provider's hook, with two defaults fit for a fresh machine.

    A missing ``spark_default`` connection means ``local[*]`` (the provider would pick
    YARN), and ``spark-submit`` is also looked for beside the running interpreter,
    where pip installs it, when it is not on PATH.
    """

    def _resolve_connection(self) -> dict[str, Any]:
        data = super()._resolve_connection()
        if connection_or_none(self._conn_id) is None:
            data["master"] = DEFAULT_MASTER
            self.log.info("no %s connection: Spark master %s", self._conn_id, DEFAULT_MASTER)
        return data

    def _get_spark_binary_path(self) -> list[str]:
        binary = self._connection["spark_binary"]
        if shutil.which(binary) is None:
            beside = Path(sys.executable).parent / binary
            if beside.is_file():
                return [str(beside)]
        return [binary]


class OptunaStudyHook(BaseHook):
    """The Optuna storage of the run's studies: MySQL from connection ``optuna_conn_id``
    when it exists, else the journal under the storage root.

    The URL may hold a password: it is masked in Airflow's logs before anything else.
    """

    def __init__(self, optuna_conn_id: str, storage_root: str) -> None:
        super().__init__()
        self.optuna_conn_id = optuna_conn_id
        self.storage_root = storage_root
        self._url: tuple[str, str] | None = None

    def get_url(self) -> tuple[str, str]:
        """(URL, kind): kind ``mysql`` or ``journal``."""
        if self._url is None:
            url, kind = optuna_storage_url(self.optuna_conn_id, self.storage_root)
            if kind == "mysql":
                from airflow.sdk.log import mask_secret
                from sqlalchemy.engine import make_url

                mask_secret(url)
                if password := make_url(url).password:
                    mask_secret(str(password))  # also where a library prints it on its own
            self._url = (url, kind)
        return self._url

    def get_storage(self) -> Any:
        from tasks.tuning.storage import open_storage

        return open_storage(self.get_url()[0])

    def study_id(self, storage: Any, name: str) -> int | None:
        """The study's id in the storage, or None when it does not exist (yet)."""
        try:
            return int(storage.get_study_id_from_name(name))
        except KeyError:
            return None
