"""The local Spark session the data benchmarks run the stages in."""

from __future__ import annotations

import os
import sys
from typing import Any


def local_session(app: str, driver_memory: str | None = None) -> Any:
    """``local[*]`` without UI or progress bars, logging errors only; Python workers run
    this interpreter."""
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = (
        SparkSession.builder.master("local[*]")
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if driver_memory:
        builder = builder.config("spark.driver.memory", driver_memory)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
