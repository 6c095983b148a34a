"""What each stage hands to spark-submit (application file, arguments, conf), the RAPIDS
accelerator's conf, Spark's errors in one readable line, and the stages' lineage."""

from tasks.spark.commands import (
    base_conf,
    export_args,
    export_conf,
    job_file,
    job_spec,
    stage_args,
    stage_parser,
    stage_session,
    storage_url_from_environment,
    tune_args,
    tune_conf,
)
from tasks.spark.error_text import spark_error_text
from tasks.spark.lineage import FILE_NAMESPACE, LINEAGE_CONFIG_ENV, STAGE_DATASETS, stage_datasets
from tasks.spark.rapids import configured_jar, engine_of, rapids_conf

__all__ = [
    "FILE_NAMESPACE",
    "LINEAGE_CONFIG_ENV",
    "STAGE_DATASETS",
    "base_conf",
    "configured_jar",
    "engine_of",
    "export_args",
    "export_conf",
    "job_file",
    "job_spec",
    "rapids_conf",
    "spark_error_text",
    "stage_args",
    "stage_datasets",
    "stage_parser",
    "stage_session",
    "storage_url_from_environment",
    "tune_args",
    "tune_conf",
]
