"""The OpenLineage events a stage's Spark application emits (tasks.spark.lineage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tasks.core import Layout, parse_spec
from tasks.spark.lineage import LINEAGE_CONFIG_ENV, ApplicationLineage, application_lineage
from tests.conftest import demo_spec_data

DS = "2026-11-21"
PARENT_RUN = "01937f0e-5b7a-7c3e-8a4f-2f6d1c9b0a11"
PARENT = {
    "spark.openlineage.parentJobNamespace": "retune_ns",
    "spark.openlineage.parentJobName": "retune_demo_regression.etl",
    "spark.openlineage.parentRunId": PARENT_RUN,
    "spark.openlineage.rootParentJobName": "retune_demo_regression",
    "spark.openlineage.rootParentRunId": "01937f0e-5b7a-7c3e-8a4f-2f6d1c9b0a00",
    "spark.master": "local[2]",
}


class FakeSpark:
    """What application_lineage reads of a session: its SparkConf and version."""

    version = "4.0.1"

    def __init__(self, conf: dict[str, str]) -> None:
        self.sparkContext = self
        self._conf = conf

    def getConf(self) -> FakeSpark:
        return self

    def getAll(self) -> list[tuple[str, str]]:
        return list(self._conf.items())


def events(folder: Path) -> list[dict[str, Any]]:
    files = sorted(folder.glob("event*"), key=lambda path: path.stat().st_mtime_ns)
    return [json.loads(path.read_text()) for path in files]


@pytest.fixture
def file_transport(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "lineage"
    folder.mkdir()
    config = {"transport": {"type": "file", "log_file_path": str(folder / "event")}}
    monkeypatch.setenv(LINEAGE_CONFIG_ENV, json.dumps(config))
    return folder


def test_a_spark_job_emits_start_and_complete_as_a_child_of_its_task(
    tmp_path: Path, file_transport: Path
) -> None:
    spec = parse_spec(demo_spec_data())
    layout = Layout(tmp_path, spec.name, DS)
    with application_lineage(FakeSpark(PARENT), "etl", spec, DS, str(tmp_path)):  # type: ignore[arg-type]
        assert [e["eventType"] for e in events(file_transport)] == ["START"]
    start, complete = events(file_transport)
    assert complete["eventType"] == "COMPLETE"
    assert start["run"]["runId"] == complete["run"]["runId"] != PARENT_RUN
    assert complete["job"] == {
        "namespace": "retune_ns",
        "name": "retune_demo_regression.etl.spark_application",
        "facets": complete["job"]["facets"],
    }
    assert complete["job"]["facets"]["jobType"]["integration"] == "SPARK"
    parent = complete["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == PARENT_RUN
    assert (parent["job"]["namespace"], parent["job"]["name"]) == (
        "retune_ns",
        "retune_demo_regression.etl",
    )
    assert parent["root"]["job"]["name"] == "retune_demo_regression"
    assert complete["run"]["facets"]["processing_engine"]["version"] == "4.0.1"
    raw = str(tmp_path / "raw" / "demo_regression" / f"ds={DS}")
    assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [("file", raw)]
    assert [d["name"] for d in complete["outputs"]] == [str(layout.staging_dir)]


def test_a_failed_spark_job_emits_fail_with_the_error_and_still_raises(
    tmp_path: Path, file_transport: Path
) -> None:
    spec = parse_spec(demo_spec_data())
    with (
        pytest.raises(SystemExit),
        application_lineage(FakeSpark(PARENT), "validate", spec, DS, str(tmp_path)),  # type: ignore[arg-type]
    ):
        raise SystemExit(3)
    start, failed = events(file_transport)
    assert (start["eventType"], failed["eventType"]) == ("START", "FAIL")
    assert failed["run"]["facets"]["errorMessage"]["message"] == "SystemExit: 3"
    assert failed["inputs"][0]["name"] == str(Layout(tmp_path, spec.name, DS).staging_dir)


def test_without_a_parent_job_in_the_conf_nothing_is_emitted(
    tmp_path: Path, file_transport: Path
) -> None:
    spec = parse_spec(demo_spec_data())
    conf = {k: v for k, v in PARENT.items() if "parentRunId" not in k}
    assert ApplicationLineage.from_conf(conf, "etl", spec, DS, str(tmp_path), "4") is None
    with application_lineage(FakeSpark(conf), "etl", spec, DS, str(tmp_path)):  # type: ignore[arg-type]
        pass
    assert events(file_transport) == []


def test_a_transport_that_fails_does_not_fail_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    spec = parse_spec(demo_spec_data())
    # A file transport whose folder does not exist: every emit fails.
    config = {"transport": {"type": "file", "log_file_path": str(tmp_path / "no" / "event")}}
    monkeypatch.setenv(LINEAGE_CONFIG_ENV, json.dumps(config))
    ran = []
    with (
        caplog.at_level("WARNING"),
        application_lineage(FakeSpark(PARENT), "export", spec, DS, str(tmp_path)),  # type: ignore[arg-type]
    ):
        ran.append(True)
    assert ran == [True]
    assert "could not emit the OpenLineage START event of export" in caplog.text
