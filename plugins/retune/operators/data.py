"""etl -> validate -> materialize: the data stages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from retune.operators.base import RetuneOperator, SparkJobOperator
from tasks.core import DriftDetected, EtlSummary, ValidationFailed, ValidationGate

if TYPE_CHECKING:
    from airflow.sdk import Context


class EtlOperator(SparkJobOperator):
    """Submit the ETL Spark job for the run's ds; XCom: rows, quarantine, engine.

    ``rapids_jar``: the RAPIDS Accelerator jar for GPU mode (default: ``RETUNE_RAPIDS_JAR``).
    """

    template_fields: Sequence[str] = (*SparkJobOperator.template_fields, "rapids_jar")

    def __init__(self, *, rapids_jar: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rapids_jar = rapids_jar

    def execute(self, context: Context) -> dict[str, Any]:
        from tasks.core import gpu_count
        from tasks.data import check_partition
        from tasks.spark import base_conf, configured_jar, rapids_conf

        spec = self.load_spec(context)
        layout = self.layout(context, spec)
        check_partition(spec.source_path(str(layout.root), layout.ds))
        gpu = rapids_conf(spec.gpu, gpu_count(), configured_jar(self.rapids_jar))
        self.submit(
            context,
            "etl",
            self.job_args(context),
            {**base_conf(self.python), **gpu},
            name=f"retune-etl-{spec.name}-{layout.ds}",
        )
        summary = EtlSummary.read(layout.etl_summary_file)
        return summary.model_dump(
            include={"rows", "rows_read", "quarantined", "duplicates_removed", "engine"}
        )


class DataRejected(ValidationFailed, AirflowFailException):
    """The gate failed: the task fails at once, since a retry would check the same data."""


class DriftRejected(DriftDetected, AirflowFailException):
    """Drift past ``drift.error``: the task fails at once, since a retry would score the
    same data; a new run with ``accept_drift`` publishes it."""


class ValidateOperator(SparkJobOperator):
    """Submit the Great Expectations gate as a Spark job; fails naming failed expectations.

    XCom: the summary (expectations evaluated, warnings, report and Data Docs paths).
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from tasks.data import failure
        from tasks.spark import base_conf

        spec = self.load_spec(context)
        layout = self.layout(context, spec)
        try:
            self.submit(
                context,
                "validate",
                self.job_args(context),
                base_conf(self.python),
                name=f"retune-validate-{spec.name}-{layout.ds}",
            )
        except Exception:
            # The job wrote which expectations failed: raise that, not spark-submit's exit code.
            failed = failure(layout)
            if failed is not None:
                raise DataRejected(str(failed)) from None
            raise
        return ValidationGate.read(layout.gate_file).model_dump(mode="json")


class MaterializeOperator(RetuneOperator):
    """Publish the validated snapshot atomically and emit its Asset event.

    XCom and the event's ``extra``: the snapshot's path, ds, rows and content hash.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from tasks.data import run_materialize

        spec = self.load_spec(context)
        layout = self.layout(context, spec)
        try:
            manifest = run_materialize(spec, layout)
        except DriftDetected as exc:
            raise DriftRejected(str(exc)) from None
        drift = manifest.drift
        summary: dict[str, Any] = {
            "path": str(layout.dataset_dir),
            "ds": layout.ds,
            "rows": manifest.rows,
            "content_hash": manifest.content_hash,
            "quarantined": manifest.quarantined,
            "engine": manifest.engine,
            "drift": drift.model_dump(include={"level", "errors", "warned", "accepted"})
            if drift
            else dict.fromkeys(("level", "errors", "warned", "accepted")),
        }
        for asset in self.outlets:
            context["outlet_events"][asset].extra = summary
        return summary
