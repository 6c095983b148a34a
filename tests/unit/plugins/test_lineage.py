"""What each stage tells OpenLineage it read and wrote (retune.lineage)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.core import Layout, parse_spec
from tests.conftest import demo_spec_data

DS = "2026-11-21"


def test_the_datasets_chain_raw_to_staging_to_snapshot_to_model(tmp_path: Path) -> None:
    from retune.lineage import stage_lineage

    spec = parse_spec(demo_spec_data())
    layout = Layout(tmp_path, spec.name, DS)

    def io(task: str) -> tuple[list[str], list[str]]:
        lineage = stage_lineage(task, spec, layout)
        assert all(d.namespace == "file" for d in [*lineage.inputs, *lineage.outputs])
        return [d.name for d in lineage.inputs], [d.name for d in lineage.outputs]

    raw = str(tmp_path / "raw" / "demo_regression" / f"ds={DS}")
    assert io("etl") == ([raw], [str(layout.staging_dir)])
    assert io("materialize") == ([str(layout.staging_dir)], [str(layout.dataset_dir)])
    assert io("tune") == ([str(layout.dataset_dir)], [])
    assert io("export") == ([str(layout.dataset_dir)], [str(layout.model_dir)])
    assert io("promote") == ([str(layout.model_dir)], [str(layout.champion_file)])
    assert io("keep_champion") == ([], [])


def test_an_operator_that_did_not_run_reports_no_lineage() -> None:
    from retune.operators import ExportOperator

    operator = ExportOperator(task_id="export", spec_path="unused.yaml")
    assert operator.get_openlineage_facets_on_complete(None) is None


def task_context() -> dict[str, object]:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    run = SimpleNamespace(
        conf={}, logical_date=None, run_after=datetime(2026, 11, 22, tzinfo=UTC), clear_number=0
    )
    ti = SimpleNamespace(
        dag_id="retune_demo_regression",
        task_id="etl",
        try_number=1,
        map_index=-1,
        dag_run=run,
        get_template_context=lambda: {"dag_run": run},
    )
    return {"ti": ti, "dag_run": run}


def test_a_spark_job_gets_its_task_as_parent_only_when_openlineage_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.openlineage import conf as lineage_conf
    from retune.lineage import spark_lineage

    from tasks.spark import LINEAGE_CONFIG_ENV

    # (The provider's conf does not cache its reads under pytest.)
    monkeypatch.delenv("AIRFLOW__OPENLINEAGE__TRANSPORT", raising=False)
    assert lineage_conf.is_disabled()
    assert spark_lineage(task_context()) == ({}, {})  # type: ignore[arg-type]
    transport = {"type": "file", "log_file_path": str(tmp_path / "event")}
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(transport))
    conf, env = spark_lineage(task_context())  # type: ignore[arg-type]
    assert conf["spark.openlineage.parentJobName"] == "retune_demo_regression.etl"
    assert conf["spark.openlineage.rootParentJobName"] == "retune_demo_regression"
    assert len(conf["spark.openlineage.parentRunId"]) == 36  # a UUID
    # The client's configuration (credentials, for an HTTP transport) goes by environment.
    assert json.loads(env[LINEAGE_CONFIG_ENV]) == {"transport": transport}
    assert not any("log_file_path" in value for value in conf.values())
