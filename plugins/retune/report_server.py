"""Retune's route on the Airflow API server: the run reports and Data Docs, to signed-in users.

``GET /retune/storage/models/<pipeline>/...`` serves the model folders (report.html,
plots, model card); ``GET /retune/storage/reports/<pipeline>/ds=<ds>/data_docs/...``
serves Data Docs. Nothing else of the storage root is served (no raw or quarantined
rows). A user needs read access to the pipeline's DAG. Pages are sandboxed, so their
scripts cannot act on Airflow as the user.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.responses import FileResponse

from retune.hooks import resolve_storage_root
from tasks.core import DOCS_DIR, MODELS, REPORTS, names

SANDBOX = "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox"

app = FastAPI(title="Retune reports", docs_url=None, redoc_url=None, openapi_url=None)


def served_file(root: Path, kind: str, pipeline: str, path: str) -> Path:
    """The file to serve, or 404 for anything outside what this route may show."""
    parts = PurePosixPath(path).parts
    allowed = kind == MODELS or (len(parts) > 1 and kind == REPORTS and parts[1] == DOCS_DIR)
    if not allowed or ".." in parts or pipeline in ("", ".", ".."):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not a Retune report file")
    home = (root / kind / pipeline).resolve()
    target = (home / path).resolve()
    if not target.is_relative_to(home) or not target.is_file():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"{kind}/{pipeline}/{path} does not exist (has the run's export finished?)",
        )
    return target


def may_read_pipeline(pipeline: str, user: Annotated[Any, Depends(get_user)]) -> None:
    """Read access to the pipeline's DAG, as Airflow's auth manager decides."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )

    if not get_auth_manager().is_authorized_dag(
        method="GET",
        access_entity=DagAccessEntity.TASK_INSTANCE,
        details=DagDetails(id=names.dag_id(pipeline)),
        user=user,
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"no read access to {names.dag_id(pipeline)}"
        )


@app.get("/storage/{kind}/{pipeline}/{path:path}", dependencies=[Depends(may_read_pipeline)])
def storage_file(kind: str, pipeline: str, path: str) -> FileResponse:
    target = served_file(Path(resolve_storage_root()), kind, pipeline, path)
    headers = {"Content-Security-Policy": SANDBOX, "X-Content-Type-Options": "nosniff"}
    return FileResponse(target, headers=headers)
