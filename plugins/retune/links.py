"""Extra links of the tune and export tasks: the run's report, and the study in optuna-dashboard.

Airflow computes a task's links when the task ends, on the worker, and stores them as
XComs; each link reads what ``execute`` put on the operator (nothing when it failed first).

Settings (``[retune]`` in airflow.cfg, or ``AIRFLOW__RETUNE__<KEY>``):

- ``report_base_url``: where ``<storage root>`` is served (default: Retune's own
  authenticated route on the Airflow API server, ``/retune/storage``).
- ``optuna_dashboard_url``: an optuna-dashboard on the same storage (no link without it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator

    from tasks.core import Layout

STORAGE_ROUTE = "/retune/storage"


def setting(key: str) -> str:
    from airflow.sdk.configuration import conf

    return str(conf.get("retune", key, fallback="") or "").strip()


def default_report_base() -> str:
    """Retune's route on the API server, below Airflow's own base path if it has one."""
    from airflow.sdk.configuration import conf

    base_path = urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    return f"{base_path}{STORAGE_ROUTE}"


def report_url(layout: Layout, segmented: bool = False) -> str:
    """The run's report; of a segmented run, its page ranking the segments."""
    base = (setting("report_base_url") or default_report_base()).rstrip("/")
    page = layout.segments_report_file if segmented else layout.report_file
    relative = page.relative_to(layout.root)
    return f"{base}/{quote(relative.as_posix(), safe='/=')}"


def dashboard_url(study_id: int) -> str:
    """The study's page in optuna-dashboard, or "" when none is configured."""
    base = setting("optuna_dashboard_url").rstrip("/")
    return f"{base}/dashboard/studies/{study_id}" if base else ""


class ReportLink(BaseOperatorLink):
    name = "Retune report"

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        return str(getattr(operator, "report_link", "") or "")


class DashboardLink(BaseOperatorLink):
    name = "Optuna dashboard"

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        return str(getattr(operator, "dashboard_link", "") or "")
