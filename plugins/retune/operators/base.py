"""What every Retune operator shares: the run's resolved spec, the storage layout, timings."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from retune.hooks import RetuneSparkSubmitHook, resolve_storage_root
from retune.run_day import run_ds

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tasks.core import Layout, PipelineSpec, RunSpec

SPEC_SHA_XCOM = "spec_sha256"


class RetuneOperator(BaseOperator):
    """Base of the stage operators. Nothing is read or computed in ``__init__``.

    ``pipeline``: the spec's name, known when the DAG is built; it places the run's
    resolved spec (read from ``spec_path`` when not given).
    """

    template_fields: Sequence[str] = ("spec_path", "storage_root")

    def __init__(
        self,
        *,
        spec_path: str,
        pipeline: str | None = None,
        storage_root: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spec_path = spec_path
        self.pipeline = pipeline
        self.storage_root = storage_root
        self._run: RunSpec | None = None
        self._layout: Layout | None = None

    def run_overrides(self, context: Context) -> dict[str, Any]:
        """This run's parameters (the UI form or ``--conf``) that override the spec."""
        from tasks.core import RUN_PARAMS

        params = context.get("params") or {}
        return {name: params[name] for name in RUN_PARAMS if params.get(name) is not None}

    def run_spec(self, context: Context) -> RunSpec:
        """The run's resolved spec: read from the run's ``spec.json``, written there by the
        first task of the run (the YAML with this run's parameters applied)."""
        from pathlib import Path

        from tasks.core import Layout, RetuneError, load_spec, resolve_run_spec

        if self._run is None:
            run_id = context.get("run_id")
            if not run_id:
                raise RetuneError(f"task {self.task_id} has no run_id in its context")
            pipeline = self.pipeline or load_spec(self.spec_path).name
            root = Path(resolve_storage_root(self.storage_root))
            path = Layout(root, pipeline, run_ds(context)).run_spec_file(str(run_id))
            self._run = resolve_run_spec(path, self.spec_path, run_id, self.run_overrides(context))
            if self._run.spec.name != pipeline:
                raise RetuneError(
                    f"{self._run.path}: spec name {self._run.spec.name!r} is not the DAG's "
                    f"pipeline {pipeline!r}; a renamed spec makes a new DAG"
                )
            self.log.info("run spec %s (SHA-256 %s)", self._run.path, self._run.sha256)
        return self._run

    def load_spec(self, context: Context) -> PipelineSpec:
        """The spec this run uses (see :meth:`run_spec`)."""
        return self.run_spec(context).spec

    def layout(self, context: Context, spec: PipelineSpec) -> Layout:
        from pathlib import Path

        from tasks.core import Layout

        self._layout = Layout(
            Path(resolve_storage_root(self.storage_root)), spec.name, run_ds(context)
        )
        return self._layout

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """What the task read and wrote (:mod:`retune.lineage`); the OpenLineage provider
        calls it, when it is configured, after the task succeeded."""
        from retune.lineage import stage_lineage

        if self._run is None or self._layout is None:
            return None
        return stage_lineage(self.task_id, self._run.spec, self._layout)

    def post_execute(self, context: Context, result: Any = None) -> None:
        """Record this task's timing for the run's report, and the spec's SHA-256 as XCom."""
        from datetime import UTC, datetime

        from tasks.core import record_stage

        ti = context["ti"]
        if self._run is not None:
            ti.xcom_push(key=SPEC_SHA_XCOM, value=self._run.sha256)
        if self._layout is None:
            return
        started = ti.start_date or datetime.now(UTC)
        try:
            map_index = -1 if ti.map_index is None else ti.map_index
            record_stage(
                self._layout, ti.task_id, map_index, ti.try_number, started, datetime.now(UTC)
            )
        except OSError as exc:  # the stage's work is done; only its report entry is lost
            self.log.warning("could not record the timing of %s: %s", ti.task_id, exc)


class SparkJobOperator(RetuneOperator):
    """A stage that runs as a Spark application, submitted through the provider's hook,
    which the operator holds (as the provider's SparkSubmitOperator does) for ``on_kill``."""

    template_fields: Sequence[str] = (*RetuneOperator.template_fields, "conn_id")

    def __init__(self, *, conn_id: str = "spark_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self._hook: RetuneSparkSubmitHook | None = None

    def submit(
        self,
        context: Context,
        job: str,
        application_args: list[str],
        conf: dict[str, str],
        name: str,
        env_vars: dict[str, str] | None = None,
    ) -> None:
        """Run ``tasks/jobs/<job>_job.py``; with OpenLineage on, the application emits its
        own events as a child run of this task (:func:`retune.lineage.spark_lineage`)."""
        from retune.lineage import spark_lineage
        from tasks.spark import job_file

        lineage_conf, lineage_env = spark_lineage(context)
        environment = {**(env_vars or {}), **lineage_env}
        self._hook = RetuneSparkSubmitHook(
            conn_id=self.conn_id,
            conf={**conf, **lineage_conf},
            application_args=application_args,
            env_vars=environment or None,
            name=name,
        )
        self._hook.submit(job_file(job))

    def job_args(self, context: Context) -> list[str]:
        """``--spec`` (the run's resolved spec), ``--ds``, ``--storage-root``: every job's."""
        from tasks.spark import stage_args

        run = self.run_spec(context)
        return stage_args(str(run.path), run_ds(context), resolve_storage_root(self.storage_root))

    @property
    def python(self) -> str:
        return sys.executable

    def on_kill(self) -> None:
        if self._hook is not None:
            self._hook.on_kill()
