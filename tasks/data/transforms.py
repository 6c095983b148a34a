"""The ETL job's transforms: pure ``DataFrame -> DataFrame`` functions of the spec.

Order in the job: :func:`type_rows` -> (quarantine split off) -> :func:`dedup` ->
:func:`add_derived_features` -> :func:`assign_split`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from tasks.core import PipelineSpec, SchemaSpec

REASON = "__reason"
# CSV: the text of a row whose field count differs from its file's header (Spark's
# columnNameOfCorruptRecord); such a row is quarantined.
RAW_RECORD = "__raw_record"
RAGGED_ROW = "row: more or fewer fields than the header"
UNLABELED = "__unlabeled"
FLOAT_TYPES = {"double", "float"}
SPLIT_COLUMN = "__split"
SPLIT_BUCKETS = 10_000


def required_columns(spec: PipelineSpec) -> set[str]:
    """Columns a usable row must have: key, the split's time column, non-nullable ones.

    The target is not among them: a row without one is unlabelled (see :func:`type_rows`).
    """
    schema = spec.data_schema
    required = {schema.key}
    required |= {name for name, column in schema.columns.items() if not column.nullable}
    required.discard(schema.target)
    if spec.split.method == "time" and spec.split.time_column:
        required.add(spec.split.time_column)
    return required


def typed_value(name: str, kind: str, target: bool) -> Column:
    """The column cast to ``kind``; in a float feature, NaN and infinity become null (missing).

    ``try_cast`` turns an unparsable value into null instead of failing the job (Spark 4
    casts in ANSI mode).
    """
    from pyspark.sql import functions as F

    typed = F.col(name).try_cast(kind)
    if kind in FLOAT_TYPES and not target:
        finite = ~F.isnan(typed) & (F.abs(typed) != F.lit(float("inf")))
        return F.when(finite, typed)
    return typed


def row_problems(schema: SchemaSpec, required: Iterable[str]) -> Column:
    """An array of ``"<column>: <problem>"`` per row, empty when the row is usable.

    A null that was not null before the cast is a value of the wrong type; a NaN or
    infinite target cannot be learnt from.
    """
    from pyspark.sql import functions as F

    required = set(required)
    problems = []
    for name, column in schema.columns.items():
        raw, typed = F.col(name), F.col(name).try_cast(column.type)
        problems.append(
            F.when(raw.isNotNull() & typed.isNull(), F.lit(f"{name}: not a {column.type}"))
        )
        if name in required:
            problems.append(F.when(raw.isNull(), F.lit(f"{name}: null")))
        if name == schema.target and column.type in FLOAT_TYPES:
            infinite = F.isnan(typed) | (F.abs(typed) == F.lit(float("inf")))
            problems.append(F.when(infinite, F.lit(f"{name}: not finite (NaN or infinity)")))
    return F.filter(F.array(*problems), lambda problem: problem.isNotNull())


def type_rows(frame: DataFrame, spec: PipelineSpec) -> DataFrame:
    """Every spec column cast to its type, plus ``__reason`` (why the row is wrong, or null)
    and ``__unlabeled`` (the target is null: kept out of the snapshot, but not wrong)."""
    from pyspark.sql import functions as F

    schema = spec.data_schema
    problems = row_problems(schema, required_columns(spec))
    if RAW_RECORD in frame.columns:
        ragged = F.when(F.col(RAW_RECORD).isNotNull(), F.lit(RAGGED_ROW))
        problems = F.concat(F.filter(F.array(ragged), lambda p: p.isNotNull()), problems)
    return frame.select(
        *[
            typed_value(name, column.type, name == schema.target).alias(name)
            for name, column in schema.columns.items()
        ],
        F.when(F.size(problems) > 0, F.array_join(problems, "; ")).alias(REASON),
        F.col(schema.target).isNull().alias(UNLABELED),
    )


def category_counts(frame: DataFrame, columns: list[str]) -> DataFrame:
    """``column``, ``value`` (Spark's text of it) and ``count`` of every non-null value of
    each of ``columns``."""
    from pyspark.sql import functions as F

    pairs = F.array(
        *[
            F.struct(F.lit(name).alias("column"), F.col(name).cast("string").alias("value"))
            for name in columns
        ]
    )
    values = frame.select(F.inline(pairs)).where(F.col("value").isNotNull())
    return values.groupBy("column", "value").count()


def dedup(frame: DataFrame, key: str, timestamp: str | None) -> DataFrame:
    """One row per key: the latest by ``timestamp`` when given; ties broken by a row hash.

    The hash makes the kept row the same on every rerun, whatever order the files
    are read in.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = [F.col(timestamp).desc_nulls_last()] if timestamp else []
    order.append(F.xxhash64(*[F.col(c) for c in frame.columns]))
    rank = F.row_number().over(Window.partitionBy(key).orderBy(*order))
    return frame.withColumn("__rank", rank).where(F.col("__rank") == 1).drop("__rank")


def duplicated_keys(frame: DataFrame, key: str) -> DataFrame:
    """Keys that occur more than once, with ``__extra``: how many rows beyond the first."""
    from pyspark.sql import functions as F

    extra = (F.count(F.lit(1)) - 1).alias("__extra")
    return frame.groupBy(key).agg(extra).where(F.col("__extra") > 0)


def dedup_keys(
    frame: DataFrame, key: str, timestamp: str | None, duplicated: DataFrame
) -> DataFrame:
    """:func:`dedup` on the rows of the ``duplicated`` keys only; the other rows pass as they are.

    ``duplicated`` (from :func:`duplicated_keys`) is broadcast, so the unique rows, usually
    nearly all, are neither shuffled nor sorted.
    """
    from pyspark.sql import functions as F

    flags = F.broadcast(duplicated.select(key, F.lit(True).alias("__dup")))
    marked = frame.join(flags, key, "left")
    unique = marked.where(F.col("__dup").isNull()).select(*frame.columns)
    repeated = marked.where(F.col("__dup")).select(*frame.columns)
    return unique.unionByName(dedup(repeated, key, timestamp))


def add_derived_features(frame: DataFrame, derived: dict[str, str]) -> DataFrame:
    from pyspark.sql import functions as F

    if not derived:
        return frame
    return frame.withColumns(
        {name: F.expr(expression).cast("double") for name, expression in derived.items()}
    )


def split_label(key: str, valid_fraction: float) -> Column:
    """'valid' or 'train' from a hash of the key: stable across reruns, backfills, engines."""
    from pyspark.sql import functions as F

    bucket = F.pmod(F.xxhash64(F.col(key).cast("string")), F.lit(SPLIT_BUCKETS))
    threshold = round(valid_fraction * SPLIT_BUCKETS)
    return F.when(bucket < threshold, F.lit("valid")).otherwise(F.lit("train"))


def time_number(name: str, kind: str) -> Column:
    """A column as a number that orders like it (timestamps in microseconds, dates in days)."""
    from pyspark.sql import functions as F

    if kind == "timestamp":
        return F.unix_micros(F.col(name))
    if kind == "date":
        return F.unix_date(F.col(name))
    return F.col(name).cast("double")


def assign_split(
    frame: DataFrame, spec: PipelineSpec, time_cutoff: float | None = None
) -> DataFrame:
    """``__split``: by key hash, or for the time method: rows after the cutoff are valid."""
    from pyspark.sql import functions as F

    split = spec.split
    if split.method == "hash":
        return frame.withColumn(
            SPLIT_COLUMN, split_label(spec.data_schema.key, split.valid_fraction)
        )
    if time_cutoff is None or split.time_column is None:
        raise ValueError("the time split needs its cutoff (see time_cutoff)")
    kind = spec.data_schema.columns[split.time_column].type
    late = time_number(split.time_column, kind) > F.lit(time_cutoff)
    return frame.withColumn(SPLIT_COLUMN, F.when(late, "valid").otherwise("train"))


def time_cutoff(frame: DataFrame, spec: PipelineSpec) -> float:
    """The time after which the latest ``valid_fraction`` of rows lie (approximate, 1e-4)."""
    column = spec.split.time_column
    if column is None:
        raise ValueError("split.time_column is not set")
    kind = spec.data_schema.columns[column].type
    numbers = frame.select(time_number(column, kind).alias("__t"))
    (cutoff,) = numbers.approxQuantile("__t", [1.0 - spec.split.valid_fraction], 1e-4)
    return float(cutoff)
