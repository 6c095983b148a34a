"""The RAPIDS conf each GPU mode builds, by exact equality, and the engine a session reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tasks.core import RetuneError
from tasks.spark import engine_of, rapids_conf
from tasks.spark.rapids import DISCOVERY_SCRIPT


@pytest.fixture
def jar(tmp_path: Path) -> str:
    path = tmp_path / "rapids-4-spark_2.13.jar"
    path.write_bytes(b"PK")
    return str(path)


def test_gpu_conf_when_a_gpu_and_the_jar_are_there(jar: str) -> None:
    expected = {
        "spark.plugins": "com.nvidia.spark.SQLPlugin",
        "spark.rapids.sql.enabled": "true",
        "spark.jars": jar,
        "spark.executor.resource.gpu.amount": "1",
        "spark.executor.resource.gpu.discoveryScript": str(DISCOVERY_SCRIPT),
        "spark.task.resource.gpu.amount": "0.25",
    }
    assert rapids_conf("on", gpus=1, jar=jar) == expected
    assert rapids_conf("auto", gpus=2, jar=jar) == expected
    assert (
        rapids_conf("on", gpus=1, jar=jar, tasks_per_gpu=1)["spark.task.resource.gpu.amount"] == "1"
    )
    assert DISCOVERY_SCRIPT.is_file()


def test_cpu_conf_when_off_or_when_auto_finds_no_gpu_or_no_jar(jar: str) -> None:
    assert rapids_conf("off", gpus=4, jar=jar) == {}
    assert rapids_conf("auto", gpus=0, jar=jar) == {}
    assert rapids_conf("auto", gpus=1, jar=None) == {}
    assert rapids_conf("auto", gpus=1, jar="/nowhere/rapids.jar") == {}


def test_on_without_a_gpu_or_a_jar_fails_before_submitting(jar: str) -> None:
    with pytest.raises(RetuneError, match="no GPU is visible"):
        rapids_conf("on", gpus=0, jar=jar)
    with pytest.raises(RetuneError, match="no RAPIDS Accelerator jar is configured"):
        rapids_conf("on", gpus=1, jar=None)
    with pytest.raises(RetuneError, match="jar '/nowhere/rapids.jar' does not exist"):
        rapids_conf("on", gpus=1, jar="/nowhere/rapids.jar")
    with pytest.raises(RetuneError, match="not one of auto, on, off"):
        rapids_conf("yes", gpus=1, jar=jar)


class FakeConf:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)


class FakeSession:
    def __init__(self, values: dict[str, str]) -> None:
        self.conf = FakeConf(values)


def test_engine_is_cpu_unless_the_plugin_is_loaded_and_enabled(spark: Any, jar: str) -> None:
    assert engine_of(spark) == "spark-cpu"
    assert engine_of(FakeSession({"spark.rapids.sql.enabled": "true"})) == "spark-cpu"
    # The conf asks for the plugin but its class is not on this JVM: still the CPU.
    asked = rapids_conf("on", gpus=1, jar=jar)
    session = FakeSession(asked)
    session._jvm = spark._jvm  # type: ignore[attr-defined]
    assert engine_of(session) == "spark-cpu"
