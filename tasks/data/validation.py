"""Data validation gate: the spec's Great Expectations suite, run with Spark on staged data.

Spark job ``tasks/jobs/validate_job.py`` (submitted by the validate task). It writes, under
``<storage>/reports/<pipeline>/ds=<ds>/``, the full validation result and GX Data Docs;
into the staging folder, the gate file materialize requires (with the staged data's
content hash, so exactly the data that passed gets published). A failed error-severity
expectation raises :class:`ValidationFailed` naming each, with observed values.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import (
    SEGMENT_COLUMN,
    SPLITS,
    EtlSummary,
    Layout,
    PipelineSpec,
    SnapshotMissing,
    ValidationFailed,
    ValidationGate,
    content_hash,
    names,
    replace_dir,
)
from tasks.data.expectations import IS_VALID, build_suite
from tasks.spark import job_spec, stage_parser, stage_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SITE = "retune"
# Exit code of the job when the data fails validation (a crash exits 1).
EXIT_FAILED = 3


def staged_frame(spark: SparkSession, staging_dir: Path) -> DataFrame:
    """Both splits as one frame, with ``__is_valid`` telling them apart."""
    from pyspark.sql import functions as F

    frames = [
        spark.read.parquet(str(staging_dir / split)).withColumn(
            IS_VALID, F.lit(1.0 if split == "valid" else 0.0)
        )
        for split in SPLITS
    ]
    return frames[0].unionByName(frames[1])


def segment_rows(frame: DataFrame) -> dict[str, dict[str, int]]:
    """Each segment's staged rows per split, as validation counted them."""
    counts: dict[str, dict[str, int]] = {}
    for row in frame.groupBy(SEGMENT_COLUMN, IS_VALID).count().collect():
        split = "valid" if row[IS_VALID] else "train"
        counts.setdefault(str(row[SEGMENT_COLUMN]), {"train": 0, "valid": 0})[split] = int(
            row["count"]
        )
    return dict(sorted(counts.items()))


def new_context() -> Any:
    """An in-memory GX context (the suite is built from the spec on every run)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    return context


def run_suite(
    context: Any, spec: PipelineSpec, suite: Any, frame: DataFrame, docs_dir: Path
) -> Any:
    """Run the suite through a GX checkpoint that also renders Data Docs into ``docs_dir``."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    context.add_data_docs_site(
        site_name=SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    batch = (
        context.data_sources.add_spark("retune")
        .add_dataframe_asset(f"{spec.name}_staging")
        .add_batch_definition_whole_dataframe("all_rows")
    )
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{spec.name}_gate", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"{spec.name}_checkpoint",
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="data_docs", site_names=[SITE])],
            result_format="SUMMARY",
        )
    )
    outcome = checkpoint.run(batch_parameters={"dataframe": frame})
    (result,) = outcome.run_results.values()
    return result


def describe(result: dict[str, Any]) -> dict[str, Any]:
    """One expectation's outcome from the result JSON: what, where, observed, expected."""
    config = result["expectation_config"]
    details = result.get("result") or {}
    observed = details.get("observed_value")
    if observed is None and "unexpected_count" in details:
        share = details.get("unexpected_percent") or 0.0
        observed = f"{details['unexpected_count']} unexpected ({share:.2f}%)"
        if details.get("partial_unexpected_list"):
            observed += f", e.g. {details['partial_unexpected_list'][:5]}"
    kwargs = config.get("kwargs") or {}
    return {
        "expectation": config["type"],
        "column": kwargs.get("column"),
        "severity": (config.get("meta") or {}).get("severity", "error"),
        "spec_field": (config.get("meta") or {}).get("spec_field") or "",
        "observed": observed,
        "expected": {k: v for k, v in kwargs.items() if k not in ("column", "batch_id")},
    }


def outcomes(result_json: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The failed expectations of a result: (errors, warnings)."""
    failed = [describe(r) for r in result_json["results"] if not r["success"]]
    errors = [f for f in failed if f["severity"] == "error"]
    return errors, [f for f in failed if f["severity"] != "error"]


def rounded(value: Any) -> Any:
    """``value`` with float noise dropped (0.30000000000000004 -> 0.3), in lists and dicts."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def failure(layout: Layout) -> ValidationFailed | None:
    """The error a run's written result amounts to, or None when it passed or is absent."""
    path = layout.validation_result_file
    if not path.is_file():
        return None
    result_json = json.loads(path.read_text())
    errors, _ = outcomes(result_json)
    if not errors:
        return None
    lines = "\n  ".join(
        f"{f['spec_field'] or 'the spec'}: observed {rounded(f['observed'])!r}, expected "
        f"{rounded(f['expected'])} [Great Expectations: {f['expectation']}({f['column'] or ''})]"
        for f in errors
    )
    evaluated = result_json["statistics"]["evaluated_expectations"]
    return ValidationFailed(
        f"data validation failed for {layout.pipeline} ds={layout.ds}: {len(errors)} of "
        f"{evaluated} expectations\n  {lines}\nfull result: {path}\n"
        f"Data Docs: {layout.data_docs_index}"
    )


def read_json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def run_validate(
    spark: SparkSession, spec: PipelineSpec, ds: str, storage_root: str
) -> ValidationGate:
    """Validate the staged data; write the reports and, when it passes, the gate file."""
    from pyspark import StorageLevel

    layout = Layout(Path(storage_root), spec.name, ds)
    staging = layout.staging_dir
    if not all((staging / split).is_dir() for split in SPLITS):
        raise SnapshotMissing(f"no staged data to validate in {staging}: run etl for this ds")
    context = new_context()
    etl_summary = EtlSummary.read(layout.etl_summary_file)
    staged_rows = sum(etl_summary.rows.values())
    suite = build_suite(spec, staged_rows or None, sorted(etl_summary.segments or {}))
    for stale in (layout.gate_file, layout.validation_result_file):
        stale.unlink(missing_ok=True)
    staged_hash = content_hash(staging)
    frame = staged_frame(spark, staging).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with replace_dir(layout.data_docs_dir) as docs:
            result_json = run_suite(context, spec, suite, frame, docs).to_json_dict()
        segments = segment_rows(frame) if spec.segments is not None else None
    finally:
        frame.unpersist()
    layout.validation_result_file.write_text(json.dumps(result_json, indent=2, default=str))
    problem = failure(layout)
    if problem is not None:
        raise problem
    _, warnings = outcomes(result_json)
    gate = ValidationGate(
        success=True,
        evaluated=result_json["statistics"]["evaluated_expectations"],
        warnings=len(warnings),
        warned=[f"{w['expectation']}({w['column'] or ''})" for w in warnings],
        content_hash=staged_hash,
        segments=segments,
        result_path=str(layout.validation_result_file),
        data_docs=str(layout.data_docs_index),
    )
    gate.write(layout.gate_file)
    return gate


def main(argv: list[str]) -> None:
    """Print the summary as JSON; on failed expectations, print why and exit with 3."""
    args = stage_parser("retune-validate").parse_args(argv)
    spec = job_spec(args)
    with stage_session(names.VALIDATE, spec, args.ds, args.storage_root) as spark:
        try:
            print(run_validate(spark, spec, args.ds, args.storage_root).model_dump_json())
        except ValidationFailed as failed:
            print(str(failed), file=sys.stderr)
            raise SystemExit(EXIT_FAILED) from None
