"""What the Spark stages submit: job files and the tuning conf (tasks.spark.commands)."""

from __future__ import annotations

import pytest

from tasks.core import TuningSpec
from tasks.spark import job_file, tune_conf


def test_spark_job_files_and_tune_conf() -> None:
    assert tune_conf("/py", TuningSpec(), "off")["spark.speculation"] == "false"
    assert job_file("etl").endswith("tasks/jobs/etl_job.py")
    with pytest.raises(ValueError, match="no Spark job named 'nope'"):
        job_file("nope")
