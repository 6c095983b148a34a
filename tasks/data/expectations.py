"""The Great Expectations suite a spec implies, plus the extra expectations it lists.

Every expectation carries ``meta.severity``: ``error`` stops the run, ``warn`` is only
reported. The suite runs on the staged data as Spark reads it (see tasks.data.validation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasks.core import SpecError

if TYPE_CHECKING:
    import great_expectations as gx

    from tasks.core import PipelineSpec

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


def _with(expectation: Any, severity: str = "error") -> Any:
    expectation.meta = {**(expectation.meta or {}), "severity": severity}
    return expectation


def spec_expectations(spec: PipelineSpec) -> list[Any]:
    """What the spec says of the data, each as a GX expectation (severity error)."""
    import great_expectations.expectations as gxe

    schema = spec.data_schema
    found: list[Any] = []
    for name, column in schema.columns.items():
        found.append(gxe.ExpectColumnToExist(column=name))
        found.append(gxe.ExpectColumnValuesToBeOfType(column=name, type_=SPARK_TYPES[column.type]))
        if not column.nullable or name in (schema.key, schema.target):
            found.append(gxe.ExpectColumnValuesToNotBeNull(column=name))
        if column.min is not None or column.max is not None:
            found.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=name, min_value=column.min, max_value=column.max
                )
            )
        if column.allowed is not None:
            found.append(gxe.ExpectColumnValuesToBeInSet(column=name, value_set=column.allowed))
    for name in spec.derived_features:
        found.append(gxe.ExpectColumnToExist(column=name))
    found.append(gxe.ExpectColumnValuesToBeUnique(column=schema.key))
    found.append(gxe.ExpectTableRowCountToBeBetween(min_value=spec.validation.min_rows))
    found.extend(target_expectations(spec))
    fraction, tolerance = spec.split.valid_fraction, spec.validation.split_tolerance
    found.append(
        gxe.ExpectColumnMeanToBeBetween(
            column=IS_VALID,
            min_value=max(0.0, fraction - tolerance),
            max_value=min(1.0, fraction + tolerance),
        )
    )
    return [_with(e) for e in found]


def target_expectations(spec: PipelineSpec) -> list[Any]:
    """The target's distribution: classes for classification, spread and bounds for regression."""
    import great_expectations.expectations as gxe

    target, checks = spec.data_schema.target, spec.validation
    # One value only leaves nothing to learn, whatever the task.
    found: list[Any] = [gxe.ExpectColumnUniqueValueCountToBeBetween(column=target, min_value=2)]
    if spec.task == "binary":
        found.append(gxe.ExpectColumnValuesToBeInSet(column=target, value_set=[0, 1]))
    elif spec.task == "multiclass":
        found.append(gxe.ExpectColumnMinToBeBetween(column=target, min_value=0))
    if checks.target_mean is not None:
        low, high = checks.target_mean
        found.append(gxe.ExpectColumnMeanToBeBetween(column=target, min_value=low, max_value=high))
    if checks.target_stdev is not None:
        low, high = checks.target_stdev
        found.append(gxe.ExpectColumnStdevToBeBetween(column=target, min_value=low, max_value=high))
    return found


def extra_expectations(spec: PipelineSpec) -> list[Any]:
    """The spec's ``validation.expectations``; an unknown name or argument is a SpecError."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    found = []
    for index, extra in enumerate(spec.validation.expectations):
        where = f"validation.expectations[{index}] ({extra.type})"
        try:
            expectation = ExpectationConfiguration(
                type=extra.type, kwargs=dict(extra.kwargs)
            ).to_domain_obj()
        except Exception as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SpecError(f"{spec.name}: {where} is not a valid expectation: {detail}") from None
        found.append(_with(expectation, extra.severity))
    return found


def build_suite(spec: PipelineSpec) -> gx.ExpectationSuite:
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=f"retune.{spec.name}")
    for expectation in [*spec_expectations(spec), *extra_expectations(spec)]:
        suite.add_expectation(expectation)
    return suite
