from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, demo_spec_data


def dagbag(folder: Path):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


def test_dags_folder_imports_with_one_dag_per_spec() -> None:
    bag = dagbag(ROOT / "dags")
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["retune_demo_regression"]


def test_dag_has_six_stages_in_order_with_mapped_tune() -> None:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    dag = dagbag(ROOT / "dags").dags["retune_demo_regression"]
    order = ["etl", "validate", "materialize", "create_study", "tune", "export"]
    assert [t.task_id for t in dag.topological_sort()] == order
    for upstream, downstream in pairwise(order):
        assert dag.get_task(upstream).downstream_task_ids == {downstream}
    assert isinstance(dag.get_task("tune"), MappedOperator)
    assert all(dag.get_task(t).retries == 2 for t in order)
    assert dag.params["n_trials"] == 12
    assert dag.timetable.expression == "0 0 * * *"


def test_run_params_reject_bad_values() -> None:
    from airflow.sdk.exceptions import ParamValidationError

    dag = dagbag(ROOT / "dags").dags["retune_demo_regression"]
    params = dag.params
    params["n_trials"] = 30
    params.validate()
    params["timeout_minutes"] = 45.5
    params["warm_start"] = False
    params["fresh_study"] = True
    params.validate()
    for name, bad in (
        ("n_trials", 0),
        ("n_workers", 500),
        ("gpu", "maybe"),
        ("timeout_minutes", -5),
        ("timeout_minutes", "soon"),
        ("warm_start", "yes"),
        ("fresh_study", 1),
    ):
        with pytest.raises(ParamValidationError):
            params[name] = bad


def test_one_bad_spec_among_three_hides_no_other_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("first", "second"):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({**demo_spec_data(), "name": name}))
    data = demo_spec_data()
    data["metric"] = "auc"
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("RETUNE_SPEC_DIR", str(tmp_path))
    bag = dagbag(ROOT / "dags")
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == [
        "retune_first",
        "retune_invalid_spec_broken",
        "retune_second",
    ]
    broken = bag.dags["retune_invalid_spec_broken"]
    assert broken.description.startswith("INVALID SPEC broken.yaml: ")
    for text in (broken.doc_md, broken.description):
        assert "metric 'auc' does not fit task 'regression'" in text
    assert f"{tmp_path / 'broken.yaml'}: invalid spec" in broken.doc_md
    assert [t.task_id for t in broken.tasks] == ["spec_error"]


def test_a_segmented_pipeline_may_narrow_a_manual_run_to_some_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from airflow.sdk.exceptions import ParamValidationError

    shutil.copy(ROOT / "examples" / "flights" / "flights_by_carrier.yaml", tmp_path)
    monkeypatch.setenv("RETUNE_SPEC_DIR", str(tmp_path))
    bag = dagbag(ROOT / "dags")
    params = bag.dags["retune_flights_by_carrier"].params
    assert params["segments"] is None
    params["segments"] = ["UA", "B6"]
    params.validate()
    for bad in ([], ["no/slash"], "UA"):
        with pytest.raises(ParamValidationError):
            params["segments"] = bad
    monkeypatch.delenv("RETUNE_SPEC_DIR")
    assert "segments" not in dagbag(ROOT / "dags").dags["retune_demo_regression"].params


def test_a_pipeline_over_past_data_has_an_end_date_and_may_be_backfilled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    from datetime import UTC, datetime

    from tasks.core import SpecError, parse_spec

    shutil.copy(ROOT / "examples" / "flights" / "flights_by_carrier.yaml", tmp_path)
    monkeypatch.setenv("RETUNE_SPEC_DIR", str(tmp_path))
    dag = dagbag(ROOT / "dags").dags["retune_flights_by_carrier"]
    assert dag.end_date == datetime(2013, 12, 31, tzinfo=UTC)
    with pytest.raises(SpecError, match="end_date 2026-10-01 is before start_date 2026-11-01"):
        parse_spec({**demo_spec_data(), "end_date": "2026-10-01"})


def test_an_approval_gate_adds_a_human_in_the_loop_branch_after_export(tmp_path: Path) -> None:
    from datetime import timedelta

    from airflow.providers.standard.operators.hitl import HITLBranchOperator
    from retune.dag_factory import build_dag

    data = demo_spec_data()
    data["export"] = {
        "approval": {"when": "always", "timeout_minutes": 90, "on_timeout": "approve"}
    }
    (tmp_path / "gated.yaml").write_text(yaml.safe_dump(data))
    dag = build_dag(tmp_path / "gated.yaml")
    gate = dag.get_task("approve_promotion")
    assert isinstance(gate, HITLBranchOperator)
    assert dag.get_task("export").downstream_task_ids == {"approve_promotion"}
    assert gate.downstream_task_ids == {"promote", "keep_champion"}
    assert gate.options == ["Approve", "Reject"] and gate.defaults == ["Approve"]
    assert gate.response_timeout == timedelta(minutes=90)
    # Without one, the DAG ends at export as before.
    ungated = dagbag(ROOT / "dags").dags["retune_demo_regression"]
    assert "approve_promotion" not in ungated.task_ids


def test_tuning_on_the_snapshot_asset_splits_the_pipeline_in_two_dags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.definitions.asset import Asset
    from airflow.sdk.exceptions import ParamValidationError

    data = demo_spec_data()
    data["tuning"]["trigger"] = "snapshot_asset"
    data["alerts"] = {"export_within_minutes": 600}
    data["end_date"] = "2030-01-01"
    (tmp_path / "on_snapshot.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("RETUNE_SPEC_DIR", str(tmp_path))
    bag = dagbag(ROOT / "dags")
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["retune_demo_regression", "retune_demo_regression_tuning"]
    data_dag = bag.dags["retune_demo_regression"]
    tuning = bag.dags["retune_demo_regression_tuning"]
    assert [t.task_id for t in data_dag.topological_sort()] == ["etl", "validate", "materialize"]
    assert data_dag.timetable.expression == "0 0 * * *"
    assert sorted(data_dag.params.keys()) == ["accept_drift", "gpu"]
    assert data_dag.deadline is None  # the deadline is the export's, in the tuning DAG
    assert data_dag.end_date is not None and tuning.end_date is None
    (outlet,) = data_dag.get_task("materialize").outlets
    assert isinstance(outlet, Asset) and outlet.name == "retune_demo_regression_snapshot"
    assert [t.task_id for t in tuning.topological_sort()] == ["create_study", "tune", "export"]
    assert [asset.name for asset in tuning.timetable.asset_condition.objects] == [outlet.name]
    assert tuning.deadline is not None
    assert "accept_drift" not in tuning.params
    assert tuning.params["ds"] is None and tuning.params["n_trials"] == 12
    params = tuning.params
    params["ds"] = "2026-11-30"
    params.validate()
    for bad in ("30/11/2026", "2026-13-45"):
        with pytest.raises(ParamValidationError):
            params["ds"] = bad


def test_two_specs_that_would_build_the_same_dag_id_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    split = demo_spec_data()
    split["tuning"]["trigger"] = "snapshot_asset"
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(split))
    # Its DAG id is the first pipeline's tuning DAG's.
    (tmp_path / "b.yaml").write_text(
        yaml.safe_dump({**demo_spec_data(), "name": "demo_regression_tuning"})
    )
    monkeypatch.setenv("RETUNE_SPEC_DIR", str(tmp_path))
    bag = dagbag(ROOT / "dags")
    assert sorted(bag.dag_ids) == [
        "retune_demo_regression",
        "retune_demo_regression_tuning",
        "retune_invalid_spec_b",
    ]
    assert bag.dags["retune_demo_regression_tuning"].get_task("create_study")
    doc = bag.dags["retune_invalid_spec_b"].doc_md
    assert "its DAG retune_demo_regression_tuning is already built from" in doc
    assert "a.yaml" in doc


def snapshot_event(ds: str):  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    return SimpleNamespace(extra={"ds": ds, "rows": 10})


def test_a_tuning_run_takes_its_ds_from_the_param_then_the_snapshot_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from types import SimpleNamespace

    from retune.run_day import run_ds

    run = SimpleNamespace(run_after=__import__("datetime").datetime(2026, 12, 6, 3))
    tuning_dag = SimpleNamespace(params={"ds": None, "n_trials": 3})
    other_dag = SimpleNamespace(params={"n_trials": 3})
    asset = "retune_p_snapshot"
    one = {asset: [snapshot_event("2026-12-01")]}
    several = {asset: [snapshot_event("2026-12-03"), snapshot_event("2026-12-02")]}

    def ctx(dag, params=None, events=None, ds=None):  # type: ignore[no-untyped-def]
        return {
            "dag": dag,
            "params": params or {},
            "triggering_asset_events": events or {},
            "ds": ds,
            "dag_run": run,
        }

    assert run_ds(ctx(tuning_dag, events=one)) == "2026-12-01"
    assert run_ds(ctx(tuning_dag, params={"ds": "2026-11-20"}, events=one)) == "2026-11-20"
    assert run_ds(ctx(tuning_dag, params={"ds": None})) == "2026-12-06"  # by hand, no ds
    with caplog.at_level("WARNING"):
        assert run_ds(ctx(tuning_dag, events=several)) == "2026-12-03"
    assert "snapshots of 2026-12-02, 2026-12-03 were published" in caplog.text
    # A DAG without the ds Param ignores a ds in the run's conf: its logical date counts.
    assert run_ds(ctx(other_dag, params={"ds": "2026-01-01"}, ds="2026-11-30")) == "2026-11-30"
