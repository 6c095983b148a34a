"""etl -> validate -> materialize: the data stages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retune.operators.base import RetuneOperator, SparkJobOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class EtlOperator(SparkJobOperator):
    """Submit the ETL Spark job for the run's ds; XCom: rows per split."""

    def execute(self, context: Context) -> dict[str, Any]:
        import json

        from tasks.etl import SUMMARY, check_partition
        from tasks.spark_commands import base_conf, etl_args

        spec = self.load_spec(context)
        layout = self.layout(context, spec)
        check_partition(spec.source_path(str(layout.root), layout.ds))
        self.submit(
            "etl",
            etl_args(self.spec_path, layout.ds, str(layout.root)),
            base_conf(self.python),
            name=f"retune-etl-{spec.name}-{layout.ds}",
        )
        summary: dict[str, Any] = json.loads((layout.staging_dir / SUMMARY).read_text())
        return summary


class ValidateOperator(RetuneOperator):
    """The Great Expectations gate; fails the run, naming the failed expectations."""

    def execute(self, context: Context) -> dict[str, Any]:
        from tasks.validation import validate

        spec = self.load_spec(context)
        return validate(spec, self.layout(context, spec).staging_dir)


class MaterializeOperator(RetuneOperator):
    """Publish the validated snapshot atomically; XCom: the manifest's summary."""

    def execute(self, context: Context) -> dict[str, Any]:
        from tasks.materialize import publish

        spec = self.load_spec(context)
        layout = self.layout(context, spec)
        manifest = publish(spec, layout)
        return {
            "path": str(layout.dataset_dir),
            "rows": manifest["rows"],
            "content_hash": manifest["content_hash"],
        }
