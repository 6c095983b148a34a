"""Retune's report route on the API server: who may read, and what it serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.api_fastapi.core_api.security import get_user
from fastapi import HTTPException
from fastapi.testclient import TestClient
from retune.links import dashboard_url, report_url
from retune.report_server import app, served_file

from tasks.core import Layout


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RETUNE_STORAGE_ROOT", str(tmp_path))
    model = tmp_path / "models" / "demo" / "ds=2026-11-21"
    (model / "plots").mkdir(parents=True)
    (model / "report.html").write_text("<html>report</html>")
    (model / "plots" / "history.png").write_bytes(b"\x89PNG")
    reports = tmp_path / "reports" / "demo" / "ds=2026-11-21"
    (reports / "data_docs").mkdir(parents=True)
    (reports / "data_docs" / "index.html").write_text("docs")
    (reports / "quarantine").mkdir()
    (reports / "quarantine" / "rows.csv").write_text("raw,row")
    (tmp_path / "secret.txt").write_text("not served")
    return tmp_path


class ReadsOnlyDemo:
    def is_authorized_dag(self, *, method: str, details: Any, user: Any, **_: Any) -> bool:
        return method == "GET" and details.id == "retune_demo"


@pytest.fixture
def signed_in(monkeypatch: pytest.MonkeyPatch) -> Any:
    import airflow.api_fastapi.app as api_app

    monkeypatch.setattr(api_app, "get_auth_manager", ReadsOnlyDemo)
    app.dependency_overrides[get_user] = lambda: object()
    yield TestClient(app)
    app.dependency_overrides.clear()


def test_a_signed_in_reader_gets_the_report_sandboxed(storage: Path, signed_in: Any) -> None:
    response = signed_in.get("/storage/models/demo/ds=2026-11-21/report.html")
    assert response.status_code == 200 and response.text == "<html>report</html>"
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"].startswith("sandbox allow-scripts")
    docs = signed_in.get("/storage/reports/demo/ds=2026-11-21/data_docs/index.html")
    assert docs.status_code == 200 and docs.text == "docs"


def test_other_pipelines_raw_rows_and_unknown_files_are_refused(
    storage: Path, signed_in: Any
) -> None:
    assert signed_in.get("/storage/models/other/ds=2026-11-21/report.html").status_code == 403
    assert (
        signed_in.get("/storage/reports/demo/ds=2026-11-21/quarantine/rows.csv").status_code == 404
    )
    missing = signed_in.get("/storage/models/demo/ds=2026-11-22/report.html")
    assert missing.status_code == 404 and "has the run's export finished?" in missing.text
    assert signed_in.get("/storage/datasets/demo/ds=2026-11-21/manifest.json").status_code == 404


def test_no_sign_in_no_report(storage: Path) -> None:
    response = TestClient(app).get("/storage/models/demo/ds=2026-11-21/report.html")
    assert response.status_code == 401


def test_paths_cannot_leave_the_pipeline_folder(storage: Path) -> None:
    assert served_file(storage, "models", "demo", "ds=2026-11-21/plots/history.png").is_file()
    (storage / "models" / "demo" / "escape.txt").symlink_to(storage / "secret.txt")
    for kind, pipeline, path in [
        ("models", "demo", "../../secret.txt"),
        ("models", "..", "secret.txt"),
        ("models", "demo", "escape.txt"),
        ("reports", "demo", "ds=2026-11-21/../../../secret.txt"),
    ]:
        with pytest.raises(HTTPException) as error:
            served_file(storage, kind, pipeline, path)
        assert error.value.status_code == 404


def test_links_point_at_the_route_or_the_configured_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = Layout(tmp_path, "demo", "2026-11-21")
    monkeypatch.delenv("AIRFLOW__RETUNE__REPORT_BASE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW__RETUNE__OPTUNA_DASHBOARD_URL", raising=False)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/af/")
    assert report_url(layout) == "/af/retune/storage/models/demo/ds=2026-11-21/report.html"
    assert dashboard_url(7) == ""
    monkeypatch.setenv("AIRFLOW__RETUNE__REPORT_BASE_URL", "https://reports.example.com/r/")
    monkeypatch.setenv("AIRFLOW__RETUNE__OPTUNA_DASHBOARD_URL", "http://dash:8080/")
    assert (
        report_url(layout) == "https://reports.example.com/r/models/demo/ds=2026-11-21/report.html"
    )
    assert dashboard_url(7) == "http://dash:8080/dashboard/studies/7"
