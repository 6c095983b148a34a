"""One DAG per pipeline spec: etl -> validate -> materialize -> create_study -> tune[i] -> export
(or two, split at the snapshot Asset: ``tuning.trigger: snapshot_asset``).

Parse-time work is limited to reading the spec YAML; nothing heavy is imported here.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param
from airflow.sdk.exceptions import AirflowFailException

from retune.hooks import resolve_storage_root
from retune.notifiers import FAILURE, PipelineAlert, export_deadline
from retune.operators import (
    ApprovePromotionOperator,
    CreateStudyOperator,
    EtlOperator,
    ExportOperator,
    MaterializeOperator,
    SettleApprovalOperator,
    TuneOperator,
    ValidateOperator,
)
from retune.run_day import SNAPSHOT_DS_PARAM
from tasks.core import (
    DATASETS,
    PipelineSpec,
    SpecError,
    load_spec,
    names,
    param_schema,
    params_for,
    pipeline_dir,
    spec_value,
)

log = logging.getLogger(__name__)

SPEC_DIR_ENV = "RETUNE_SPEC_DIR"
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "retune",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
}


def default_args(spec: PipelineSpec) -> dict[str, Any]:
    """Retries, and the failure alert (called once a task has failed for good)."""
    if not spec.alerts.on_failure:
        return DEFAULT_ARGS
    return {**DEFAULT_ARGS, "on_failure_callback": PipelineAlert(spec, FAILURE)}


def run_params(spec: PipelineSpec) -> dict[str, Param]:
    """The Params form of a manual run; defaults come from the spec, bounds from its model."""
    return stage_params(spec, "data", "tuning")


def stage_params(spec: PipelineSpec, *stages: Literal["data", "tuning"]) -> dict[str, Param]:
    """The Params of the tasks of ``stages``, from the run-parameter table (in its order):
    each bounded like the spec field it sets, its default the spec's value."""
    return {
        param.name: Param(
            spec_value(spec, param.path), description=param.description, **param_schema(param)
        )
        for param in params_for(spec, *stages)
    }


def tuning_params(spec: PipelineSpec) -> dict[str, Param]:
    """The Params of the tuning stages (create_study, tune, export; ``gpu`` too)."""
    return stage_params(spec, "tuning")


def data_params(spec: PipelineSpec) -> dict[str, Param]:
    """The Params of the data stages (and ``gpu``, which the tuning stages read too)."""
    return stage_params(spec, "data")


def snapshot_tuning_params(spec: PipelineSpec) -> dict[str, Param]:
    """The Params of the tuning DAG of ``tuning.trigger: snapshot_asset``: which day to
    tune when it is run by hand, then the tuning stages'."""
    return {
        SNAPSHOT_DS_PARAM: Param(
            None,
            type=["null", "string"],
            format="date",
            description="The day to tune (YYYY-MM-DD; its snapshot must be published). "
            "Empty: the day of the snapshot whose update triggered the run.",
        ),
        **tuning_params(spec),
    }


def timetable(schedule: str | None) -> CronDataIntervalTimetable | None:
    """A cron schedule with data intervals: the run at midnight retunes on the day just ended.

    So ``ds`` is always a complete day, for scheduled runs and backfills alike.
    """
    if schedule is None:
        return None
    return CronDataIntervalTimetable(schedule, timezone="UTC")


def snapshot_asset(pipeline: str) -> Asset:
    """What materialize updates: the pipeline's published snapshots, one event per ds."""
    uri = pipeline_dir(resolve_storage_root(), DATASETS, pipeline).resolve().as_uri()
    return Asset(name=names.snapshot_asset_name(pipeline), uri=uri, group="retune")


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time()).replace(tzinfo=UTC)


def build_dag(spec_path: Path) -> DAG:
    """The spec's scheduled DAG (the one that starts with etl)."""
    return build_pipeline_dags(spec_path)[0]


def build_pipeline_dags(spec_path: Path) -> list[DAG]:
    """``retune_<name>``: etl -> ... -> export; with ``tuning.trigger: snapshot_asset``,
    ``retune_<name>`` ends at materialize and ``retune_<name>_tuning`` (scheduled on the
    snapshot Asset) runs create_study -> tune[i] -> export."""
    spec = load_spec(spec_path)
    common = {"spec_path": str(spec_path.resolve()), "pipeline": spec.name}
    together = spec.tuning.trigger == "with_data"
    settings: dict[str, Any] = {
        "start_date": midnight(spec.start_date),
        "catchup": False,
        "max_active_runs": 1,
        "default_args": default_args(spec),
        "tags": ["retune", spec.task],
    }
    with DAG(
        dag_id=names.dag_id(spec.name),
        description=spec.description or f"Daily XGBoost retune of {spec.name}",
        schedule=timetable(spec.schedule),
        end_date=midnight(spec.end_date) if spec.end_date is not None else None,
        params=run_params(spec) if together else data_params(spec),
        deadline=export_deadline(spec) if together else None,
        **settings,
    ) as dag:
        materialize = data_stages(spec, common)
        if together:
            materialize >> tuning_stages(spec, common)
    if together:
        return [dag]
    with DAG(
        dag_id=names.tuning_dag_id(spec.name),
        description=f"Tune and export {spec.name} each time its snapshot is published",
        schedule=[snapshot_asset(spec.name)],  # no end_date: it has no scheduled runs
        params=snapshot_tuning_params(spec),
        deadline=export_deadline(spec),
        **settings,
    ) as tuning:
        tuning_stages(spec, common)
    return [dag, tuning]


def data_stages(spec: PipelineSpec, common: dict[str, Any]) -> MaterializeOperator:
    """etl -> validate -> materialize; materialize's outlet is the snapshot Asset."""
    etl = EtlOperator(task_id=names.ETL, **common)
    validate = ValidateOperator(task_id=names.VALIDATE, **common)
    materialize = MaterializeOperator(
        task_id=names.MATERIALIZE, outlets=[snapshot_asset(spec.name)], **common
    )
    etl >> validate >> materialize
    return materialize


def tuning_stages(spec: PipelineSpec, common: dict[str, Any]) -> CreateStudyOperator:
    """create_study -> tune[i] -> export (-> the approval gate); returns the first."""
    create_study = CreateStudyOperator(task_id=names.CREATE_STUDY, **common)
    tune = TuneOperator.partial(task_id=names.TUNE, **common).expand(
        worker_index=create_study.output
    )
    export = ExportOperator(task_id=names.EXPORT, **common)
    tune >> export
    if spec.export.approval.when != "never":
        approval_gate(spec, common, export)
    return create_study


def approval_gate(spec: PipelineSpec, common: dict[str, Any], export: ExportOperator) -> None:
    """export -> approve_promotion -> promote | keep_champion (see retune.operators.approval)."""
    approve = ApprovePromotionOperator(task_id=names.APPROVE_PROMOTION, spec=spec, **common)
    promote = SettleApprovalOperator(
        task_id=names.PROMOTE, approved=True, approval_task=approve.task_id, **common
    )
    keep = SettleApprovalOperator(
        task_id="keep_champion", approved=False, approval_task=approve.task_id, **common
    )
    export >> approve >> [promote, keep]


def invalid_spec_dag(spec_path: Path, error: SpecError) -> DAG:
    """A stand-in for a spec that does not validate: its error is the DAG's description and
    docs, and its one task fails with it. The other specs' DAGs load as usual."""
    from airflow.sdk import task

    stem = re.sub(r"[^a-z0-9_]", "_", spec_path.stem.lower())
    message = str(error)
    with DAG(
        dag_id=names.invalid_spec_dag_id(stem),
        description=f"INVALID SPEC {spec_path.name}: {message.splitlines()[-1].strip()}"[:400],
        doc_md=f"### Invalid pipeline spec\n\n```\n{message}\n```\n",
        schedule=None,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        tags=["retune", "invalid-spec"],
    ) as dag:

        @task(task_id=names.SPEC_ERROR, retries=0)
        def spec_error() -> None:
            raise AirflowFailException(message)

        spec_error()
    return dag


def build_dags(directory: Path) -> dict[str, DAG]:
    """Every spec ``*.yaml`` of ``directory`` ($RETUNE_SPEC_DIR first) as a DAG, by dag_id.

    A spec that does not validate becomes a ``retune_invalid_spec_<file>`` DAG showing its
    error, so it hides no other pipeline.
    """
    directory = Path(os.environ.get(SPEC_DIR_ENV) or directory)
    dags: dict[str, DAG] = {}
    sources: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            built = build_pipeline_dags(path)
            for dag in built:
                if dag.dag_id in dags:
                    raise SpecError(
                        f"{path}: its DAG {dag.dag_id} is already built from "
                        f"{sources[dag.dag_id]}; give one of the pipelines another name"
                    )
        except SpecError as error:
            log.error("%s", error)
            built = [invalid_spec_dag(path, error)]
        for dag in built:
            dags[dag.dag_id] = dag
            sources[dag.dag_id] = path
    return dags
