"""Optional MLflow logging of an export: one run per export, a registry version if named.

Configured by the spec's ``export.mlflow``; the tracking URI comes from the spec or
``$MLFLOW_TRACKING_URI``, and credentials only from MLflow's own environment variables.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tasks.core import RetuneError

if TYPE_CHECKING:
    from pathlib import Path

    from tasks.core import MlflowSpec, ModelCard

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
CHAMPION_ALIAS = "champion"
ENV_PREFIX = "MLFLOW_"


def tracking_uri(settings: MlflowSpec) -> str:
    uri = settings.tracking_uri or os.environ.get(TRACKING_URI_ENV)
    if not uri:
        raise RetuneError(
            f"export.mlflow is set but has no tracking URI: set export.mlflow.tracking_uri "
            f"or {TRACKING_URI_ENV}"
        )
    return uri


def check_mlflow(settings: MlflowSpec | None) -> None:
    """Fail before any training when MLflow is asked for but cannot be used."""
    if settings is None:
        return
    tracking_uri(settings)
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise RetuneError(
            "export.mlflow is set but MLflow is not installed (pip install 'retune[mlflow]')"
        ) from None


def mlflow_environment() -> dict[str, str]:
    """MLflow's variables of this process, to hand on to the Spark task that exports."""
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}


def log_export(
    settings: MlflowSpec, folder: Path, card: ModelCard, promoted: bool
) -> dict[str, Any]:
    """Log params, metrics and the model folder as a run; register a version if asked."""
    import mlflow
    from mlflow import MlflowClient

    uri = tracking_uri(settings)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name(settings.experiment)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment(
            settings.experiment, artifact_location=settings.artifact_location
        )
    )
    segment = (card.segment or {}).get("key")
    tags = {
        "retune.pipeline": card.pipeline,
        "retune.ds": card.ds,
        "retune.study": card.study.name,
        "retune.trial_number": str(card.study.trial_number),
        "retune.promoted": str(promoted).lower(),
        **({"retune.segment": segment} if segment else {}),
    }
    name = f"{card.pipeline} {card.ds}" + (f" {segment}" if segment else "")
    run = client.create_run(experiment_id, tags=tags, run_name=name)
    run_id = run.info.run_id
    try:
        client.log_batch(
            run_id,
            metrics=[mlflow.entities.Metric(k, v, 0, 0) for k, v in card.metrics.items()],
            params=[mlflow.entities.Param(k, str(v)) for k, v in card.params.items()],
        )
        client.log_artifacts(run_id, str(folder), artifact_path="model")
        result: dict[str, Any] = {"tracking_uri": uri, "run_id": run_id}
        if settings.registered_model:
            # A segment's models are versions of their own registered model, so each
            # segment's champion alias moves with its own promotions only.
            model = settings.registered_model + (f".{segment}" if segment else "")
            result["model_version"] = register(client, model, run_id, promoted)
            result["registered_model"] = model
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return result


def register(client: Any, name: str, run_id: str, promoted: bool) -> str:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    if promoted:
        client.set_registered_model_alias(name, CHAMPION_ALIAS, version.version)
    return str(version.version)
