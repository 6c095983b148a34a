"""create_study -> tune[i] -> export: the tuning stages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from retune.hooks import optuna_storage_url
from retune.operators.base import RetuneOperator, SparkJobOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


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

            mask_secret(url)
        return url, kind


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


class TuneOperator(SparkJobOperator, StudyOperator):
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
            ),
            tune_conf(self.python, spec.tuning, spec.gpu),
            name=f"retune-tune-{spec.name}-{layout.ds}-{self.worker_index}",
            env_vars={STORAGE_ENV: url},
        )
        study = optuna.load_study(
            study_name=study_name(spec.name, layout.ds), storage=open_storage(url)
        )
        return {"worker_index": int(self.worker_index), **study_summary(study)}


class ExportOperator(StudyOperator):
    """Retrain the best trial, evaluate, write model + card, promote it if it beats the champion.

    XCom: the paths, the metric, and whether the model was promoted (and why).
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from tasks.export import export_best
        from tasks.optuna_storage import open_storage

        spec = self.load_spec(context)
        layout = self.layout(context, spec)
        url, kind = self.storage_url(str(layout.root))
        return export_best(spec, layout, open_storage(url), kind, run_id=context.get("run_id"))
