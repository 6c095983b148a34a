"""Retune's Airflow plugin: the report route on the API server (see retune.report_server)."""

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin
from retune.report_server import app


class RetunePlugin(AirflowPlugin):
    name = "retune"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": app, "url_prefix": "/retune", "name": "Retune reports"}
    ]
