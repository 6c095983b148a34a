"""create_study -> tune[i] -> export: the tuning stages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from retune.hooks import OptunaStudyHook, resolve_storage_root
from retune.links import DashboardLink, ReportLink, dashboard_url, report_url
from retune.notifiers import not_promoted_alert
from retune.operators.base import RetuneOperator, SparkJobOperator
from tasks.core import ExportRefused, NoCompletedTrial, SnapshotMissing, SnapshotTooLarge, names

if TYPE_CHECKING:
    from airflow.sdk import Context
    from optuna.storages import BaseStorage

    from tasks.core import Layout, PipelineSpec, RunSpec
    from tasks.model import MemoryPlan


def study_hook(operator: RetuneOperator, optuna_conn_id: str) -> OptunaStudyHook:
    return OptunaStudyHook(optuna_conn_id, resolve_storage_root(operator.storage_root))


def worker_memory(spec: PipelineSpec, layout: Layout) -> MemoryPlan:
    """What each worker needs for the run's snapshot; too large fails here, before submit."""
    from tasks.model import plan_memory, read_manifest

    try:
        return plan_memory(read_manifest(layout.dataset_dir), spec)
    except SnapshotTooLarge as exc:
        raise WorkerTooSmall(str(exc)) from None


class WorkerTooSmall(SnapshotTooLarge, AirflowFailException):
    """The snapshot does not fit the largest worker allowed: a retry would not fit either."""


def study_links(
    hook: OptunaStudyHook, storage: BaseStorage, spec: PipelineSpec, layout: Layout
) -> tuple[str, str]:
    """What the extra links show: the run's report, and the study in optuna-dashboard."""
    from tasks.tuning import study_name

    study_id = hook.study_id(storage, study_name(spec.name, layout.ds))
    report = report_url(layout, segmented=spec.segments is not None)
    return report, "" if study_id is None else dashboard_url(study_id)


class CreateStudyOperator(RetuneOperator):
    """Create (or resume) the study and its trial budget; XCom: the worker indexes to map."""

    template_fields: Sequence[str] = (*RetuneOperator.template_fields, "optuna_conn_id")

    def __init__(self, *, optuna_conn_id: str = "optuna_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.optuna_conn_id = optuna_conn_id

    def execute(self, context: Context) -> list[int]:
        from tasks.model import plan_segments, read_manifest
        from tasks.tuning import check_sampler_available, create_study

        spec = self.load_spec(context)
        check_sampler_available(spec.tuning.sampler)
        layout = self.layout(context, spec)
        try:
            manifest = read_manifest(layout.dataset_dir)
        except SnapshotMissing as exc:
            raise NoSnapshotToTune(
                f"{exc}; run {names.dag_id(spec.name)} for {layout.ds} to publish it"
            ) from None
        hook = study_hook(self, self.optuna_conn_id)
        fresh = spec.tuning.fresh_study  # the run's, from its spec.json
        plan = plan_segments(spec, manifest)
        summary = create_study(hook.get_storage(), spec, layout.ds, fresh=fresh, plan=plan)
        self.log.info("studies on %s storage: %s", hook.get_url()[1], summary)
        return list(range(spec.tuning.n_workers))


class NoSnapshotToTune(SnapshotMissing, AirflowFailException):
    """The day has no published snapshot: a retry would not find one either."""


class StudyJobOperator(SparkJobOperator):
    """A Spark stage on the run's study (tune, export), with links to the run's report and
    to the study in optuna-dashboard. It holds an :class:`OptunaStudyHook`."""

    template_fields: Sequence[str] = (*SparkJobOperator.template_fields, "optuna_conn_id")
    operator_extra_links = (ReportLink(), DashboardLink())

    def __init__(self, *, optuna_conn_id: str = "optuna_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.optuna_conn_id = optuna_conn_id

    def open_study(self, context: Context) -> tuple[RunSpec, Layout, OptunaStudyHook, BaseStorage]:
        """The run's spec, layout, storage hook and storage; sets the task's links."""
        run = self.run_spec(context)
        layout = self.layout(context, run.spec)
        hook = study_hook(self, self.optuna_conn_id)
        storage = hook.get_storage()
        self.report_link, self.dashboard_link = study_links(hook, storage, run.spec, layout)
        return run, layout, hook, storage


class TuneOperator(StudyJobOperator):
    """One mapped tuning application: ``spark_tasks_per_worker`` Optuna workers on the study."""

    template_fields: Sequence[str] = (*StudyJobOperator.template_fields, "worker_index")

    def __init__(self, *, worker_index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.worker_index = worker_index

    def execute(self, context: Context) -> dict[str, Any]:
        import optuna

        from tasks.spark import tune_args, tune_conf
        from tasks.tuning import study_name, study_summary
        from tasks.tuning.storage import STORAGE_ENV

        run, layout, hook, storage = self.open_study(context)
        spec = run.spec
        spark_tasks = spec.tuning.spark_tasks_per_worker
        memory = worker_memory(spec, layout)
        self.log.info("each worker: %s", memory.as_record())
        self.submit(
            context,
            "tune",
            tune_args(
                str(run.path),
                layout.ds,
                str(layout.root),
                int(self.worker_index),
                spark_tasks,
                int(context["ti"].try_number),
            ),
            tune_conf(self.python, spec.tuning, spec.gpu, memory.executor_memory),
            name=f"retune-tune-{spec.name}-{layout.ds}-{self.worker_index}",
            env_vars={STORAGE_ENV: hook.get_url()[0]},
        )
        study = optuna.load_study(study_name=study_name(spec.name, layout.ds), storage=storage)
        summary = {"worker_index": int(self.worker_index), **study_summary(study)}
        if spec.segments is not None:
            summary["segments"] = segments_finished(storage, spec, layout)
        return summary


def segments_finished(storage: BaseStorage, spec: PipelineSpec, layout: Layout) -> dict[str, Any]:
    """Each tuned segment's finished trials and budget."""
    import optuna

    from tasks.model import plan_segments, read_manifest
    from tasks.tuning import study_name, study_summary

    plan = plan_segments(spec, read_manifest(layout.dataset_dir))
    finished = {}
    for segment in plan.tuned:
        name = study_name(spec.name, layout.ds, segment)
        summary = study_summary(optuna.load_study(study_name=name, storage=storage))
        finished[segment] = {"finished": summary["finished"], "budget": summary["budget"]}
    return finished


class NothingToExport(NoCompletedTrial, AirflowFailException):
    """No trustworthy best trial: the task fails at once, since a retry finds the same study."""


class ExportOperator(StudyJobOperator):
    """Submit the export Spark job: retrain the best trial, evaluate, write model, card and
    report, promote the model if it beats the champion.

    XCom: best value, promoted or not (and why), the paths and the spec's SHA-256.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from tasks.core import RetuneError
        from tasks.export import export_summary, load_best_trial, mlflow_environment
        from tasks.spark import export_args, export_conf
        from tasks.tuning.storage import STORAGE_ENV

        run, layout, hook, storage = self.open_study(context)
        spec = run.spec
        memory = worker_memory(spec, layout)
        try:
            trial = load_best_trial(storage, spec.name, layout.ds)
        except (NoCompletedTrial, ExportRefused) as exc:
            raise NothingToExport(str(exc)) from None
        self.log.info("exporting trial %d (value %s)", trial.number, trial.value)
        run_id = context.get("run_id")
        url, kind = hook.get_url()
        self.submit(
            context,
            "export",
            export_args(str(run.path), layout.ds, str(layout.root), kind, run_id),
            export_conf(self.python, spec.tuning, spec.gpu, memory.executor_memory),
            name=f"retune-export-{spec.name}-{layout.ds}",
            env_vars={STORAGE_ENV: url, **mlflow_environment()},
        )
        summary = export_summary(layout)
        if spec.segments is not None:
            summary.update(segments_exported(layout, run_id))
        if summary["run_id"] != run_id:
            raise RetuneError(
                f"the export job ended but {summary['model_card']} is from run "
                f"{summary['run_id']}, not {run_id}"
            )
        if summary.get("spec_sha256") != run.sha256:
            raise RetuneError(
                f"the export job ended but {summary['model_card']} has spec SHA-256 "
                f"{summary.get('spec_sha256')}, not the run's {run.sha256} ({run.path})"
            )
        pending = (summary.get("approval") or {}).get("state") == names.PENDING
        if not summary["promoted"] and not pending:
            not_promoted_alert(spec, context, summary)
        return summary


def segments_exported(layout: Layout, run_id: str | None) -> dict[str, Any]:
    """What the run's segments index says: its path, own models, fallbacks, failures."""
    from tasks.core import RetuneError
    from tasks.export import read_segments_index

    index = read_segments_index(layout)
    if index.run_id != run_id:
        raise RetuneError(
            f"the export job ended but {layout.segments_index_file} is from run "
            f"{index.run_id}, not {run_id}"
        )
    return {
        "segments_index": str(layout.segments_index_file),
        "segments_report": str(layout.segments_report_file),
        "segments_own_model": index.own_models,
        "segments_fallback": index.fallbacks,
    }
