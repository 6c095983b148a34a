"""What every Retune operator shares: the spec, the run's overrides and the storage layout."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from retune.hooks import RetuneSparkSubmitHook, resolve_storage_root

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tasks.layout import Layout
    from tasks.spec import PipelineSpec


def run_ds(context: Context) -> str:
    """The run's ds; a manual run without a logical date takes the day it was triggered."""
    ds = context.get("ds")
    if ds:
        return str(ds)
    return str(context["dag_run"].run_after.date().isoformat())


class RetuneOperator(BaseOperator):
    """Base of the stage operators. Nothing is read or computed in ``__init__``."""

    template_fields: Sequence[str] = ("spec_path", "storage_root")

    def __init__(self, *, spec_path: str, storage_root: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec_path = spec_path
        self.storage_root = storage_root

    def run_overrides(self, context: Context) -> dict[str, Any]:
        """This run's parameters (the UI form or ``--conf``) that override the spec."""
        from tasks.spec import RUN_PARAMS

        params = context.get("params") or {}
        return {name: params[name] for name in RUN_PARAMS if params.get(name) is not None}

    def load_spec(self, context: Context) -> PipelineSpec:
        """The spec with this run's parameters applied."""
        from tasks.spec import load_spec, with_overrides

        return with_overrides(load_spec(self.spec_path), self.run_overrides(context))

    def post_execute(self, context: Context, result: Any = None) -> None:
        """Record this task's timing for the run's report (stage timings)."""
        from datetime import UTC, datetime

        from tasks.timings import record_stage

        ti = context["ti"]
        started = ti.start_date or datetime.now(UTC)
        layout = self.layout(context, self.load_spec(context))
        try:
            map_index = -1 if ti.map_index is None else ti.map_index
            record_stage(layout, ti.task_id, map_index, ti.try_number, started, datetime.now(UTC))
        except OSError as exc:  # the stage's work is done; only its report entry is lost
            self.log.warning("could not record the timing of %s: %s", ti.task_id, exc)

    def layout(self, context: Context, spec: PipelineSpec) -> Layout:
        from pathlib import Path

        from tasks.layout import Layout

        return Layout(Path(resolve_storage_root(self.storage_root)), spec.name, run_ds(context))


class SparkJobOperator(RetuneOperator):
    """A stage that runs as a Spark application, submitted through the provider's hook."""

    template_fields: Sequence[str] = (*RetuneOperator.template_fields, "conn_id")

    def __init__(self, *, conn_id: str = "spark_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self._hook: RetuneSparkSubmitHook | None = None

    def submit(
        self,
        job: str,
        application_args: list[str],
        conf: dict[str, str],
        name: str,
        env_vars: dict[str, str] | None = None,
    ) -> None:
        from tasks.spark_commands import job_file

        self._hook = RetuneSparkSubmitHook(
            conn_id=self.conn_id,
            conf=conf,
            application_args=application_args,
            env_vars=env_vars,
            name=name,
        )
        self._hook.submit(job_file(job))

    @property
    def python(self) -> str:
        return sys.executable

    def on_kill(self) -> None:
        if self._hook is not None:
            self._hook.on_kill()
