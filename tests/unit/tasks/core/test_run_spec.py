"""One resolved spec per run: written once, read by every stage, refused when tampered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tasks.core import (
    Layout,
    SpecError,
    StorageNotWritable,
    parse_spec,
    read_run_spec,
    read_spec_file,
    resolve_run_spec,
    spec_sha256,
    write_run_spec,
)
from tasks.core.layout import run_folder_name
from tests.conftest import demo_spec_data

RUN = "manual__2026-11-21T10:00:00+00:00"


def yaml_spec(tmp_path: Path, n_trials: int) -> Path:
    data = demo_spec_data()
    data["tuning"]["n_trials"] = n_trials
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_first_task_writes_the_run_spec_and_later_ones_read_it_after_an_edit(
    tmp_path: Path,
) -> None:
    spec_file = yaml_spec(tmp_path, n_trials=12)
    path = Layout(tmp_path, "demo_regression", "2026-11-21").run_spec_file(RUN)
    first = resolve_run_spec(path, spec_file, RUN, {"n_workers": 3})
    assert first.spec.tuning.n_trials == 12 and first.spec.tuning.n_workers == 3
    assert path.is_file() and first.sha256 == spec_sha256(first.spec)
    written = json.loads(path.read_text())
    assert written["spec_sha256"] == first.sha256 and written["overrides"] == {"n_workers": 3}

    yaml_spec(tmp_path, n_trials=30)  # edited while the run goes on
    again = resolve_run_spec(path, spec_file, RUN, {"n_workers": 3})
    assert again.spec.tuning.n_trials == 12 and again.sha256 == first.sha256
    assert read_spec_file(path).tuning.n_trials == 12  # what a Spark job reads

    other = Layout(tmp_path, "demo_regression", "2026-11-21").run_spec_file("manual__2")
    new_run = resolve_run_spec(other, spec_file, "manual__2", {})
    assert new_run.spec.tuning.n_trials == 30 and new_run.sha256 != first.sha256


def test_a_second_writer_gets_the_first_writers_spec(tmp_path: Path) -> None:
    spec_file = yaml_spec(tmp_path, n_trials=12)
    path = tmp_path / "runs" / "spec.json"
    first = resolve_run_spec(path, spec_file, RUN, {})
    later = write_run_spec(path, read_spec_file(yaml_spec(tmp_path, 40)), RUN, "x", {})
    assert later.sha256 == first.sha256 and later.spec.tuning.n_trials == 12
    assert [p.name for p in path.parent.iterdir()] == ["spec.json"]  # nothing left aside


def test_an_edited_run_spec_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    resolve_run_spec(path, yaml_spec(tmp_path, 12), RUN, {})
    document = json.loads(path.read_text())
    document["spec"]["tuning"]["n_trials"] = 99
    path.write_text(json.dumps(document))
    with pytest.raises(SpecError, match=r"spec\.json: the run's spec was changed"):
        read_run_spec(path)
    path.write_text("{")
    with pytest.raises(SpecError, match=r"spec\.json: the run's spec is not valid JSON"):
        read_run_spec(path)
    path.write_text(json.dumps({"name": "x"}))
    with pytest.raises(SpecError, match="not a Retune run spec"):
        read_run_spec(path)


def test_a_run_spec_takes_no_second_set_of_run_parameters(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    resolve_run_spec(path, yaml_spec(tmp_path, 12), RUN, {})
    with pytest.raises(SpecError, match="cannot be applied again"):
        read_spec_file(path, {"n_trials": 3})


def test_the_digest_is_the_same_after_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    written = resolve_run_spec(path, yaml_spec(tmp_path, 12), RUN, {"gpu": "off"})
    assert read_run_spec(path).sha256 == written.sha256 == spec_sha256(read_spec_file(path))


def test_run_ids_become_safe_distinct_folder_names() -> None:
    assert run_folder_name("scheduled__1") == "scheduled__1"
    colon, underscore = run_folder_name("a:b"), run_folder_name("a_b")
    assert colon != underscore and colon.startswith("a_b.")
    assert "/" not in run_folder_name("../../etc") and ":" not in run_folder_name(RUN)
    for bad in ("", ".", ".."):
        with pytest.raises(Exception, match="cannot name a folder"):
            run_folder_name(bad)


def test_a_run_spec_that_cannot_be_written_names_its_path(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("a file where a folder should be")
    path = tmp_path / "runs" / "r" / "spec.json"
    with pytest.raises(
        StorageNotWritable, match=r"cannot write the run's spec .*runs/r/spec\.json"
    ):
        resolve_run_spec(path, yaml_spec(tmp_path, 12), RUN, {})


def test_the_run_spec_keeps_the_columns_in_the_authors_order(tmp_path: Path) -> None:
    """The order of schema.columns is the model's feature order, through Airflow too."""
    data = demo_spec_data()
    data["schema"]["columns"] = {"zz": "double", **data["schema"]["columns"], "aa": "string"}
    spec = parse_spec(data)
    written = write_run_spec(tmp_path / "spec.json", spec, "run", "spec.yaml", {})
    read = read_run_spec(written.path).spec
    assert read.model_features == spec.model_features
    assert read.model_features[0] == "zz" and read.model_features[-1] == "aa"
