"""The ETL job's segments: each row's segment key, and the checks on the day's segments.

A column segment's key is the value itself when it is a safe name (``UA``, ``west_2``),
else a slug of it and a hash of the whole value (``new_york-1a2b3c4d``), so any value
names a folder and a study. A named filter's key is its name; rows that no filter
matches get :data:`~tasks.core.layout.UNMATCHED_SEGMENT` (the global model trains on
them, no segment does). Keys and values travel in the ETL summary and the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasks.core import SEGMENT_COLUMN, UNMATCHED_SEGMENT, DataQualityError
from tasks.data.transforms import SPLIT_COLUMN

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from tasks.core import PipelineSpec

# The key of a value that is no safe name: 40 characters of slug, then 8 of its SHA-256.
SLUG_CHARACTERS = 40
HASH_CHARACTERS = 8
# Spark's regex of SEGMENT_KEY_PATTERN (tasks.core.layout).
SAFE_KEY_REGEX = "^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$"


def segment_key(column: str) -> Column:
    """The segment key of each row's ``column`` value (null stays null)."""
    from pyspark.sql import functions as F

    value = F.col(f"`{column}`").cast("string")
    slug = F.substring(F.regexp_replace(F.lower(value), "[^a-z0-9]+", "_"), 1, SLUG_CHARACTERS)
    slug = F.when(slug.isin("", "_"), F.lit("x")).otherwise(slug)
    hashed = F.substring(F.sha2(value, 256), 1, HASH_CHARACTERS)
    return F.when(value.rlike(SAFE_KEY_REGEX), value).otherwise(F.concat(slug, F.lit("-"), hashed))


def filter_matches(spec: PipelineSpec) -> Column:
    """The names of the filters each row matches, as an array (empty: none)."""
    from pyspark.sql import functions as F

    filters = spec.segments.filters if spec.segments is not None else None
    if not filters:
        raise ValueError("the spec has no segment filters")
    matched = [F.when(F.expr(f.where), F.lit(f.name)) for f in filters]
    return F.filter(F.array(*matched), lambda name: name.isNotNull())


MATCHES = "__segment_matches"


def add_segment(frame: DataFrame, spec: PipelineSpec) -> DataFrame:
    """``frame`` with :data:`SEGMENT_COLUMN` (the key) and, for filters, what each row matched."""
    from pyspark.sql import functions as F

    segments = spec.segments
    if segments is None:
        return frame
    if segments.column is not None:
        return frame.withColumn(SEGMENT_COLUMN, segment_key(segments.column))
    matched = frame.withColumn(MATCHES, filter_matches(spec))
    return matched.withColumn(
        SEGMENT_COLUMN,
        F.when(F.size(MATCHES) == 0, F.lit(UNMATCHED_SEGMENT)).otherwise(F.col(MATCHES)[0]),
    )


@dataclass
class DaySegments:
    """The day's segments: each key's value and rows per split."""

    values: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        return {
            key: {"value": self.values[key], "rows": self.rows[key]} for key in sorted(self.rows)
        }


def check_filters_disjoint(frame: DataFrame, spec: PipelineSpec) -> None:
    """Fail, naming the filters and a count, when a row matches more than one filter."""
    from pyspark.sql import functions as F

    overlap = frame.where(F.size(MATCHES) > 1)
    found = overlap.agg(F.count(F.lit(1)).alias("rows"), F.first(MATCHES).alias("names")).first()
    if found is not None and found["rows"]:
        raise DataQualityError(
            f"segments.filters overlap: {found['rows']} row(s) match more than one filter, "
            f"for example {list(found['names'])}; make the conditions exclusive"
        )


def day_segments(frame: DataFrame, spec: PipelineSpec) -> DaySegments:
    """Each segment's rows per split, after the checks: no null segment column, disjoint
    filters, at most ``segments.max_segments`` segments. Only the counts reach the driver."""
    from pyspark.sql import functions as F

    segments = spec.segments
    if segments is None:
        return DaySegments()
    if segments.filters is not None:
        check_filters_disjoint(frame, spec)
        source = F.col(SEGMENT_COLUMN)
    else:
        source = F.col(f"`{segments.column}`")
    counts = frame.groupBy(SEGMENT_COLUMN, SPLIT_COLUMN).agg(
        F.count(F.lit(1)).alias("rows"), F.first(source, ignorenulls=True).alias("value")
    )
    limit = segments.max_segments
    # Two rows per segment (its splits) and the null segment: more means too many segments.
    found = counts.limit(2 * (limit + 1) + 2).collect()
    nulls = sum(int(row["rows"]) for row in found if row[SEGMENT_COLUMN] is None)
    if nulls:
        raise DataQualityError(
            f"segments.column {segments.column!r} is null in {nulls} row(s): every row needs "
            "a segment (declare the column nullable: false to quarantine such rows instead)"
        )
    day = DaySegments()
    for row in found:
        key = row[SEGMENT_COLUMN]
        day.values[key] = row["value"]
        day.rows.setdefault(key, {"train": 0, "valid": 0})[row[SPLIT_COLUMN]] = int(row["rows"])
    # Rows that match no filter are no segment of their own.
    counted = len(day.rows) - (segments.filters is not None and UNMATCHED_SEGMENT in day.rows)
    if counted > limit:
        distinct = frame.select(SEGMENT_COLUMN).distinct().count()
        raise DataQualityError(
            f"{distinct} segments in the data exceed segments.max_segments = {limit} "
            f"(segments.column {segments.column!r}); raise the limit or segment coarser"
        )
    if segments.column is not None:
        distinct_values = frame.select(F.col(f"`{segments.column}`")).distinct().count()
        if distinct_values != len(day.rows):
            raise DataQualityError(
                f"segments.column {segments.column!r}: {distinct_values} values gave "
                f"{len(day.rows)} segment keys (two values share a key); rename the values"
            )
    return day
