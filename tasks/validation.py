"""Data validation gate: a Great Expectations suite built from the spec."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.errors import ValidationFailed
from tasks.layout import SPLITS

if TYPE_CHECKING:
    import great_expectations as gx
    import pandas as pd

    from tasks.spec import PipelineSpec

RESULT_FILE = "validation_result.json"

# pandas dtype names each spec column type may arrive as. An integer column holding
# nulls arrives as float64 and fails its check: declare such a column `double`.
PANDAS_TYPES = {
    "double": ["float64"],
    "float": ["float32", "float64"],
    "long": ["int64"],
    "int": ["int32", "int64"],
    "boolean": ["bool"],
    "string": ["object", "str", "string"],
}


def build_suite(spec: PipelineSpec) -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    schema = spec.data_schema
    suite = gx.ExpectationSuite(name=f"retune.{spec.name}")
    for column, kind in schema.types.items():
        suite.add_expectation(gxe.ExpectColumnToExist(column=column))
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=PANDAS_TYPES[kind])
        )
    suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=schema.target))
    suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=schema.key))
    suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=spec.validation.min_rows))
    return suite


def read_staging(staging_dir: Path) -> pd.DataFrame:
    import pandas as pd
    import pyarrow.parquet as pq

    frames = [pq.read_table(staging_dir / split).to_pandas() for split in SPLITS]
    return pd.concat(frames, ignore_index=True)


def _describe(result: Any) -> dict[str, Any]:
    config = result.expectation_config
    details = result.result or {}
    return {
        "expectation": config.type,
        "column": config.kwargs.get("column"),
        "observed": details.get("observed_value", details.get("unexpected_count")),
        "expected": {k: v for k, v in config.kwargs.items() if k not in ("column", "batch_id")},
    }


def validate(spec: PipelineSpec, staging_dir: str | Path) -> dict[str, Any]:
    """Run the suite on the staged data, write the full result beside it, raise on failure."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    staging_dir = Path(staging_dir)
    frame = read_staging(staging_dir)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    batch = (
        context.data_sources.add_pandas("retune")
        .add_dataframe_asset(f"{spec.name}_staging")
        .add_batch_definition_whole_dataframe("all_rows")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    result = batch.validate(build_suite(spec))
    result_path = staging_dir / RESULT_FILE
    result_path.write_text(json.dumps(result.to_json_dict(), indent=2, default=str))
    failed = [_describe(r) for r in result.results if not r.success]
    summary = {
        "success": bool(result.success),
        "evaluated": result.statistics["evaluated_expectations"],
        "failed": len(failed),
        "rows": len(frame),
        "result_path": str(result_path),
    }
    if failed:
        lines = "\n  ".join(
            f"{f['expectation']}({f['column'] or ''}): observed {f['observed']!r}, "
            f"expected {f['expected']}"
            for f in failed
        )
        raise ValidationFailed(
            f"data validation failed for {spec.name}: {len(failed)} of "
            f"{summary['evaluated']} expectations\n  {lines}\nfull result: {result_path}"
        )
    return summary
