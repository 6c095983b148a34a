"""Spark conf of the RAPIDS Accelerator for the ETL job, from the spec's GPU mode.

The plugin jar must already be on disk (no download at run time): its path comes from
the operator's ``rapids_jar`` argument or the ``RETUNE_RAPIDS_JAR`` environment variable.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tasks.core import RetuneError
from tasks.spark.commands import JOBS_DIR

log = logging.getLogger(__name__)

PLUGIN = "com.nvidia.spark.SQLPlugin"
JAR_ENV = "RETUNE_RAPIDS_JAR"
DISCOVERY_SCRIPT = JOBS_DIR / "get_gpus_resources.sh"


def configured_jar(jar: str | None = None) -> str | None:
    return jar or os.environ.get(JAR_ENV) or None


def rapids_conf(mode: str, gpus: int, jar: str | None, tasks_per_gpu: int = 4) -> dict[str, str]:
    """The accelerator's conf, or ``{}`` for the CPU.

    ``on`` without a GPU or without the jar is an error before anything is submitted;
    ``auto`` falls back to the CPU in both cases.
    """
    if mode not in ("auto", "on", "off"):
        raise RetuneError(f"gpu mode {mode!r} is not one of auto, on, off")
    if mode == "off":
        return {}
    if gpus == 0:
        if mode == "on":
            raise RetuneError("gpu mode 'on' but no GPU is visible on this host (nvidia-smi)")
        return {}
    if not jar or not Path(jar).is_file():
        missing = (
            f"the RAPIDS Accelerator jar {jar!r} does not exist"
            if jar
            else (f"no RAPIDS Accelerator jar is configured (rapids_jar or {JAR_ENV})")
        )
        if mode == "on":
            raise RetuneError(f"gpu mode 'on' but {missing}")
        log.warning("GPU present but %s: the ETL job runs on the CPU", missing)
        return {}
    return {
        "spark.plugins": PLUGIN,
        "spark.rapids.sql.enabled": "true",
        "spark.jars": jar,
        "spark.executor.resource.gpu.amount": "1",
        "spark.executor.resource.gpu.discoveryScript": str(DISCOVERY_SCRIPT),
        "spark.task.resource.gpu.amount": f"{1 / tasks_per_gpu:g}",
    }


def engine_of(spark: object) -> str:
    """``spark-rapids`` when the accelerator is loaded and enabled, else ``spark-cpu``."""
    conf = spark.conf  # type: ignore[attr-defined]
    plugins = conf.get("spark.plugins", "") or ""
    enabled = (conf.get("spark.rapids.sql.enabled", "false") or "").lower() == "true"
    if PLUGIN not in plugins or not enabled:
        return "spark-cpu"
    try:
        spark._jvm.java.lang.Class.forName(PLUGIN)  # type: ignore[attr-defined]
    except Exception:
        return "spark-cpu"
    return "spark-rapids"
