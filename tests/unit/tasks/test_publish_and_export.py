"""Materialize, a worker on the embedded journal storage, and export, without Spark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
import xgboost as xgb

from tasks.core import (
    CARD_FILE,
    GATE_FILE,
    MANIFEST,
    MODEL_FILE,
    SUCCESS_MARKER,
    DocumentError,
    NoCompletedTrial,
    SnapshotCorrupt,
    SnapshotMissing,
    ValidationFailed,
    content_hash,
    journal_path,
    parse_spec,
)
from tasks.data import run_materialize
from tasks.export import export_best
from tasks.model import load_snapshot
from tasks.model.metrics import rmse
from tasks.tuning import WorkerIdentity, create_study, run_worker, study_name
from tasks.tuning.storage import journal_url, open_storage
from tests.conftest import demo_spec_data
from tests.snapshots import published, stage

DS = "2026-11-21"


@pytest.fixture
def spec():  # type: ignore[no-untyped-def]
    return parse_spec(demo_spec_data(n_trials=3))


def test_publish_writes_data_and_manifest(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    layout = published(tmp_path, spec, DS, rows=1000)
    manifest = json.loads((layout.dataset_dir / MANIFEST).read_text())
    assert manifest["rows"] == {"train": 800, "valid": 200}
    assert manifest["schema"]["id"] == "int64"
    assert manifest["content_hash"] == content_hash(layout.dataset_dir)
    assert not list(layout.dataset_dir.parent.glob(".*"))  # nothing left aside

    stage(layout, rows=500)  # a rerun of the same ds replaces the snapshot whole
    run_materialize(spec, layout)
    again = json.loads((layout.dataset_dir / MANIFEST).read_text())
    assert again["rows"] == {"train": 400, "valid": 100}
    assert again["content_hash"] == content_hash(layout.dataset_dir) != manifest["content_hash"]
    assert sorted(p.name for p in layout.dataset_dir.parent.iterdir()) == [f"ds={DS}"]


def test_publish_refuses_unvalidated_or_changed_data(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    layout = published(tmp_path, spec, DS, rows=1000)
    before = (layout.dataset_dir / MANIFEST).read_text()
    gate_path = layout.staging_dir / GATE_FILE
    gate = json.loads(gate_path.read_text())
    gate_path.write_text(json.dumps({**gate, "success": False}))
    with pytest.raises(ValidationFailed, match="its validation did not succeed"):
        run_materialize(spec, layout)
    gate_path.unlink()
    with pytest.raises(SnapshotMissing, match="validation gate file .* is missing"):
        run_materialize(spec, layout)
    gate_path.write_text(json.dumps(gate)[:40])  # torn
    with pytest.raises(DocumentError, match=r"gate.json \(retune-validation-gate/1\): not whole"):
        run_materialize(spec, layout)
    gate_path.write_text(json.dumps(gate))
    (layout.staging_dir / "valid" / "part-00000.parquet").write_bytes(b"not what was validated")
    with pytest.raises(SnapshotCorrupt, match="its data changed after validation"):
        run_materialize(spec, layout)
    assert (layout.dataset_dir / MANIFEST).read_text() == before
    assert (layout.dataset_dir / SUCCESS_MARKER).is_file()
    assert not list(layout.dataset_dir.parent.glob(".*"))


def test_readers_refuse_a_snapshot_without_its_success_marker(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    layout = published(tmp_path, spec, DS, rows=500)
    assert load_snapshot(layout.dataset_dir, spec).read_split("train")[0].shape == (400, 20)
    (layout.dataset_dir / SUCCESS_MARKER).unlink()
    with pytest.raises(SnapshotMissing, match="is incomplete \\(no _SUCCESS\\)"):
        load_snapshot(layout.dataset_dir, spec)


def test_worker_then_export_on_the_journal_storage(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    layout = published(tmp_path, spec, DS, rows=3000)
    storage = open_storage(journal_url(journal_path(tmp_path)))
    name = study_name(spec.name, DS)
    create_study(storage, spec, DS)
    with pytest.raises(NoCompletedTrial):
        export_best(spec, layout, storage, "journal")
    summary = run_worker(
        storage, {name: None}, spec, str(layout.dataset_dir), WorkerIdentity(0, 0, 1, 11, "cpu")
    )
    assert summary["complete"] == 3
    assert (
        run_worker(
            storage, {name: None}, spec, str(layout.dataset_dir), WorkerIdentity(1, 0, 1, 12, "cpu")
        )["complete"]
        == 0
    )  # budget used up

    result = export_best(spec, layout, storage, "journal")
    card = json.loads((layout.model_dir / CARD_FILE).read_text())
    booster = xgb.Booster(model_file=str(layout.model_dir / MODEL_FILE))
    snapshot = load_snapshot(layout.dataset_dir, spec)
    pred = booster.predict(xgb.DMatrix(snapshot.x_valid, feature_names=snapshot.features))
    assert rmse(snapshot.y_valid, pred) == pytest.approx(card["metric"]["value"], rel=1e-6)
    assert card["metric"]["value"] == pytest.approx(result["value"])
    study = optuna.load_study(study_name=name, storage=storage)
    assert card["study"]["trial_number"] == study.best_trial.number
    assert card["params"] == study.best_trial.params
    assert card["data"]["content_hash"] == snapshot.manifest.content_hash
    assert card["metric"]["value"] < float(np.std(snapshot.y_valid))  # it learned something
