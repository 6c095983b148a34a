"""The data stages: ETL (Spark), validation (Great Expectations on Spark) and
materialize (the atomic publish of the snapshot); and the demo's synthetic source data."""

from tasks.data.demo_data import generate, make_frame, write_day
from tasks.data.drift import drift_summary
from tasks.data.etl import ROW_GROUP_BYTES, check_partition, run_etl, usable_rows
from tasks.data.materialize import run_materialize
from tasks.data.segmenting import add_segment
from tasks.data.transforms import add_derived_features
from tasks.data.validation import failure, run_validate

__all__ = [
    "ROW_GROUP_BYTES",
    "add_derived_features",
    "add_segment",
    "check_partition",
    "drift_summary",
    "failure",
    "generate",
    "make_frame",
    "run_etl",
    "run_materialize",
    "run_validate",
    "usable_rows",
    "write_day",
]
