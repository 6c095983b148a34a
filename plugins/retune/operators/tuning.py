"""create_study -> tune[i] -> export: the tuning stages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from retune.hooks import optuna_storage_url
from retune.links import DashboardLink, ReportLink, dashboard_url, report_url
from retune.operators.base import RetuneOperator, SparkJobOperator
from tasks.errors import ExportRefused, NoCompletedTrial

if TYPE_CHECKING:
    from airflow.sdk import Context
    from optuna.storages import BaseStorage

    from tasks.layout import Layout
    from tasks.spec import PipelineSpec


class StudyOperator(RetuneOperator):
    """A stage that works on the run's Optuna study (MySQL or the embedded journal)."""

    template_fields: Sequence[str] = (*RetuneOperator.template_fields, "optuna_conn_id")

    def __init__(self, *, optuna_conn_id: str = "optuna_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.optuna_conn_id = optuna_conn_id

    def storage_url(self, storage_root: str) -> tuple[str, str]:
        url, kind = optuna_storage_url(self.optuna_conn_id, storage_root)
        if kind == "mysql":
            from airflow.sdk.log import mask_secret
            from sqlalchemy.engine import make_url

            mask_secret(url)
            if password := make_url(url).password:
                mask_secret(str(password))  # also where a library prints it on its own
        return url, kind


class LinkedStudyOperator(StudyOperator):
    """A study stage with links to the run's report and to the study in optuna-dashboard."""

    operator_extra_links = (ReportLink(), DashboardLink())

    def set_links(self, spec: PipelineSpec, layout: Layout, storage: BaseStorage) -> None:
        from tasks.study import study_name

        self.report_link = report_url(layout)
        try:
            study_id = storage.get_study_id_from_name(study_name(spec.name, layout.ds))
        except KeyError:
            return
        self.dashboard_link = dashboard_url(study_id)


class CreateStudyOperator(StudyOperator):
    """Create (or resume) the study and its trial budget; XCom: the worker indexes to map."""

    def execute(self, context: Context) -> list[int]:
        from tasks.optuna_storage import open_storage
        from tasks.samplers import check_sampler_available
        from tasks.study import create_study

        spec = self.load_spec(context)
        check_sampler_available(spec.tuning.sampler)
        layout = self.layout(context, spec)
        url, kind = self.storage_url(str(layout.root))
        fresh = bool((context.get("params") or {}).get("fresh_study", False))
        summary = create_study(open_storage(url), spec, layout.ds, fresh=fresh)
        self.log.info("study on %s storage: %s", kind, summary)
        return list(range(spec.tuning.n_workers))


class TuneOperator(SparkJobOperator, LinkedStudyOperator):
    """One mapped tuning application: ``spark_tasks_per_worker`` Optuna workers on the study."""

    template_fields: Sequence[str] = (
        *SparkJobOperator.template_fields,
        "optuna_conn_id",
        "worker_index",
    )

    def __init__(self, *, worker_index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.worker_index = worker_index

    def execute(self, context: Context) -> dict[str, Any]:
        import optuna

        from tasks.optuna_storage import STORAGE_ENV, open_storage
        from tasks.spark_commands import tune_args, tune_conf
        from tasks.study import study_name, study_summary

        spec = self.load_spec(context)
        layout = self.layout(context, spec)
        url, _ = self.storage_url(str(layout.root))
        storage = open_storage(url)
        self.set_links(spec, layout, storage)
        spark_tasks = spec.tuning.spark_tasks_per_worker
        self.submit(
            "tune",
            tune_args(
                self.spec_path,
                layout.ds,
                str(layout.root),
                int(self.worker_index),
                spark_tasks,
                int(context["ti"].try_number),
                self.run_overrides(context),
            ),
            tune_conf(self.python, spec.tuning, spec.gpu),
            name=f"retune-tune-{spec.name}-{layout.ds}-{self.worker_index}",
            env_vars={STORAGE_ENV: url},
        )
        study = optuna.load_study(study_name=study_name(spec.name, layout.ds), storage=storage)
        return {"worker_index": int(self.worker_index), **study_summary(study)}


class NothingToExport(NoCompletedTrial, AirflowFailException):
    """No trustworthy best trial: the task fails at once, since a retry finds the same study."""


class ExportOperator(SparkJobOperator, LinkedStudyOperator):
    """Submit the export Spark job: retrain the best trial, evaluate, write model, card and
    report, promote the model if it beats the champion.

    XCom: best value, promoted or not (and why), and the paths.
    """

    template_fields: Sequence[str] = (*SparkJobOperator.template_fields, "optuna_conn_id")

    def execute(self, context: Context) -> dict[str, Any]:
        from tasks.errors import RetuneError
        from tasks.export import export_summary, load_best_trial
        from tasks.mlflow_export import mlflow_environment
        from tasks.optuna_storage import STORAGE_ENV, open_storage
        from tasks.spark_commands import export_args, export_conf

        spec = self.load_spec(context)
        layout = self.layout(context, spec)
        url, kind = self.storage_url(str(layout.root))
        storage = open_storage(url)
        self.set_links(spec, layout, storage)
        try:
            trial = load_best_trial(storage, spec.name, layout.ds)
        except (NoCompletedTrial, ExportRefused) as exc:
            raise NothingToExport(str(exc)) from None
        self.log.info("exporting trial %d (value %s)", trial.number, trial.value)
        run_id = context.get("run_id")
        overrides = self.run_overrides(context)
        self.submit(
            "export",
            export_args(self.spec_path, layout.ds, str(layout.root), kind, run_id, overrides),
            export_conf(self.python, spec.tuning, spec.gpu),
            name=f"retune-export-{spec.name}-{layout.ds}",
            env_vars={STORAGE_ENV: url, **mlflow_environment()},
        )
        summary = export_summary(layout)
        if summary["run_id"] != run_id:
            raise RetuneError(
                f"the export job ended but {summary['model_card']} is from run "
                f"{summary['run_id']}, not {run_id}"
            )
        return summary
