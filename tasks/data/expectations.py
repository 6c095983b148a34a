"""The Great Expectations suite a spec implies, plus the extra expectations it lists.

Every expectation carries ``meta.severity`` (``error`` stops the run, ``warn`` is only
reported) and ``meta.spec_field``: the spec setting that makes the check, named on failure.
The suite runs on the staged data as Spark reads it (see tasks.data.validation).
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

from tasks.core import SEGMENT_COLUMN, UNMATCHED_SEGMENT, SpecError

if TYPE_CHECKING:
    import great_expectations as gx

    from tasks.core import ExtraExpectation, PipelineSpec

# Spark's type names for the spec's column types (what ExpectColumnValuesToBeOfType sees).
SPARK_TYPES = {
    "double": "DoubleType",
    "float": "FloatType",
    "long": "LongType",
    "int": "IntegerType",
    "string": "StringType",
    "boolean": "BooleanType",
    "timestamp": "TimestampType",
    "date": "DateType",
}
# A column the validation job adds: 1.0 on valid rows, 0.0 on train rows.
IS_VALID = "__is_valid"


def _with(expectation: Any, severity: str = "error", spec_field: str = "") -> Any:
    """``expectation`` with its severity and the spec setting it checks (named on failure)."""
    expectation.meta = {**(expectation.meta or {}), "severity": severity, "spec_field": spec_field}
    return expectation


def split_tolerance(spec: PipelineSpec, rows: int | None) -> float:
    """How far the valid share may stray: ``validation.split_tolerance``, widened to four
    binomial standard errors of ``rows`` so that a correct hash split on a small table
    never fails by chance (about 1 in 16,000)."""
    fraction, tolerance = spec.split.valid_fraction, spec.validation.split_tolerance
    if not rows:
        return tolerance
    return max(tolerance, 4 * math.sqrt(fraction * (1 - fraction) / rows))


def spec_expectations(spec: PipelineSpec, rows: int | None = None) -> list[Any]:
    """What the spec says of the data, each as a GX expectation (severity error).

    ``rows``: how many rows the staged data has, to size the split check's tolerance.
    """
    import great_expectations.expectations as gxe

    schema = spec.data_schema
    found: list[Any] = []
    for name in schema.columns:
        found.extend(column_expectations(spec, name))
    for name in spec.derived_features:
        found.append(
            _with(gxe.ExpectColumnToExist(column=name), spec_field=f"derived_features.{name}")
        )
    found.append(
        _with(
            gxe.ExpectColumnValuesToBeUnique(column=schema.key),
            spec_field=f"schema.key = {schema.key}",
        )
    )
    found.append(
        _with(
            gxe.ExpectTableRowCountToBeBetween(min_value=spec.validation.min_rows),
            spec_field=f"validation.min_rows = {spec.validation.min_rows}",
        )
    )
    found.extend(target_expectations(spec))
    found.extend(segment_expectations(spec))
    found.append(split_expectation(spec, rows))
    return found


def column_expectations(spec: PipelineSpec, name: str) -> list[Any]:
    """The schema's word on one column: present, of its type, never null where it must not
    be, within its bounds and its allowed values."""
    import great_expectations.expectations as gxe

    schema = spec.data_schema
    column = schema.columns[name]
    field = f"schema.columns.{name}"
    found = [
        _with(gxe.ExpectColumnToExist(column=name), spec_field=field),
        _with(
            gxe.ExpectColumnValuesToBeOfType(column=name, type_=SPARK_TYPES[column.type]),
            spec_field=f"{field}.type = {column.type}",
        ),
    ]
    never_null: str | None = None if column.nullable else f"{field}.nullable = false"
    if name in (schema.key, schema.target):
        role = "key" if name == schema.key else "target"
        never_null = f"schema.{role} = {name} (never null)"
    if never_null is not None:
        found.append(_with(gxe.ExpectColumnValuesToNotBeNull(column=name), spec_field=never_null))
    if column.min is not None or column.max is not None:
        found.append(
            _with(
                gxe.ExpectColumnValuesToBeBetween(
                    column=name, min_value=column.min, max_value=column.max
                ),
                spec_field=f"{field}.min = {column.min}, {field}.max = {column.max}",
            )
        )
    if column.allowed is not None:
        found.append(
            _with(
                gxe.ExpectColumnValuesToBeInSet(column=name, value_set=column.allowed),
                spec_field=f"{field}.allowed = {column.allowed}",
            )
        )
    return found


def split_expectation(spec: PipelineSpec, rows: int | None) -> Any:
    """The share of valid rows is the spec's, within a tolerance widened for few rows."""
    import great_expectations.expectations as gxe

    fraction = spec.split.valid_fraction
    tolerance = split_tolerance(spec, rows)
    return _with(
        gxe.ExpectColumnMeanToBeBetween(
            column=IS_VALID,
            min_value=max(0.0, round(fraction - tolerance, 6)),
            max_value=min(1.0, round(fraction + tolerance, 6)),
        ),
        spec_field=f"split.valid_fraction = {fraction:g} within validation.split_tolerance "
        f"= {spec.validation.split_tolerance:g} (widened to {tolerance:.4g} for {rows} rows)",
    )


def target_expectations(spec: PipelineSpec) -> list[Any]:
    """The target's distribution: classes for classification, spread and bounds for regression."""
    import great_expectations.expectations as gxe

    target, checks = spec.data_schema.target, spec.validation
    field = f"schema.target = {target}"
    # Nothing non-finite is ever published: in Spark's order NaN is above every number.
    found: list[Any] = [
        _with(
            gxe.ExpectColumnValuesToBeBetween(
                column=target, min_value=-sys.float_info.max, max_value=sys.float_info.max
            ),
            spec_field=f"{field} (finite: no NaN or infinity)",
        ),
        # One value only leaves nothing to learn, whatever the task.
        _with(
            gxe.ExpectColumnUniqueValueCountToBeBetween(column=target, min_value=2),
            spec_field=f"{field} (at least two distinct values)",
        ),
    ]
    if spec.task == "binary":
        found.append(
            _with(
                gxe.ExpectColumnValuesToBeInSet(column=target, value_set=[0, 1]),
                spec_field="task = binary (labels 0 and 1)",
            )
        )
    elif spec.task == "multiclass":
        found.append(
            _with(
                gxe.ExpectColumnMinToBeBetween(column=target, min_value=0),
                spec_field="task = multiclass (labels from 0)",
            )
        )
    if checks.target_mean is not None:
        low, high = checks.target_mean
        found.append(
            _with(
                gxe.ExpectColumnMeanToBeBetween(column=target, min_value=low, max_value=high),
                spec_field=f"validation.target_mean = [{low:g}, {high:g}]",
            )
        )
    if checks.target_stdev is not None:
        low, high = checks.target_stdev
        found.append(
            _with(
                gxe.ExpectColumnStdevToBeBetween(column=target, min_value=low, max_value=high),
                spec_field=f"validation.target_stdev = [{low:g}, {high:g}]",
            )
        )
    return found


def named_expectation(spec: PipelineSpec, extra: ExtraExpectation, where: str) -> Any:
    """The GX expectation an ``ExtraExpectation`` names; an unknown name or argument is a
    SpecError naming ``where``."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    try:
        return ExpectationConfiguration(type=extra.type, kwargs=dict(extra.kwargs)).to_domain_obj()
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(
            f"{spec.name}: {where} ({extra.type}) is not a valid expectation: {detail}"
        ) from None


def extra_expectations(spec: PipelineSpec) -> list[Any]:
    """The spec's ``validation.expectations``; an unknown name or argument is a SpecError."""
    found = []
    for index, extra in enumerate(spec.validation.expectations):
        where = f"validation.expectations[{index}]"
        found.append(_with(named_expectation(spec, extra, where), extra.severity, where))
    return found


def per_segment_expectations(spec: PipelineSpec, segments: list[str]) -> list[Any]:
    """``segments.expectations``, each on every one of ``segments`` (its rows only, by a GX
    row condition on the segment column)."""
    from great_expectations.expectations.row_conditions import Column

    if spec.segments is None:
        return []
    found = []
    for index, extra in enumerate(spec.segments.expectations):
        for key in segments:
            where = f"segments.expectations[{index}] on segment {key}"
            expectation = named_expectation(spec, extra, where)
            expectation.row_condition = Column(SEGMENT_COLUMN) == key
            found.append(_with(expectation, extra.severity, where))
    return found


def segment_expectations(spec: PipelineSpec) -> list[Any]:
    """A segmented pipeline's staged rows: each in a segment, no more segments than allowed,
    and with named filters only their names."""
    import great_expectations.expectations as gxe

    segments = spec.segments
    if segments is None:
        return []
    found = [
        _with(
            gxe.ExpectColumnValuesToNotBeNull(column=SEGMENT_COLUMN),
            spec_field=f"segments (every row in a segment, {SEGMENT_COLUMN})",
        ),
        _with(
            gxe.ExpectColumnUniqueValueCountToBeBetween(
                column=SEGMENT_COLUMN,
                min_value=1,
                # with filters, the rows no filter matches are one more value
                max_value=segments.max_segments + (segments.filters is not None),
            ),
            spec_field=f"segments.max_segments = {segments.max_segments}",
        ),
    ]
    if segments.names is not None:
        found.append(
            _with(
                gxe.ExpectColumnValuesToBeInSet(
                    column=SEGMENT_COLUMN, value_set=[*segments.names, UNMATCHED_SEGMENT]
                ),
                spec_field=f"segments.filters = {segments.names}",
            )
        )
    return found


def build_suite(
    spec: PipelineSpec, rows: int | None = None, segments: list[str] | None = None
) -> gx.ExpectationSuite:
    """The run's suite: what the spec says of the data, its extra expectations, and the
    per-segment ones on each of ``segments`` (the keys ETL found)."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=f"retune.{spec.name}")
    extra = [*extra_expectations(spec), *per_segment_expectations(spec, segments or [])]
    for expectation in [*spec_expectations(spec, rows), *extra]:
        suite.add_expectation(expectation)
    return suite
