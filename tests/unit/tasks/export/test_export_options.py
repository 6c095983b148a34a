"""Export's switches: retrain on train + valid, MLflow logging, stage timings in the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from tasks.core import (
    CARD_FILE,
    MLFLOW_FILE,
    MODEL_FILE,
    REPORT_FILE,
    RetuneError,
    read_stages,
    record_stage,
)
from tasks.export import export_best
from tasks.model import load_snapshot, standard_scores
from tests.export_support import a_card, tuned


def test_retrain_on_train_valid_ships_a_refit_and_scores_the_train_only_fit(
    tmp_path: Path,
) -> None:
    spec, layout, storage = tuned(tmp_path, retrain_on="train_valid")
    export_best(spec, layout, storage, "journal")
    card = json.loads((layout.model_dir / CARD_FILE).read_text())
    assert card["trained_on"] == "train+valid"
    snapshot = load_snapshot(layout.dataset_dir, spec)
    rounds = card["num_boost_round"]
    x_train, y_train = snapshot.read_split("train")
    train = xgb.DMatrix(x_train, y_train, feature_names=snapshot.features)
    both = xgb.DMatrix(
        np.vstack([x_train, snapshot.x_valid]),
        np.concatenate([y_train, snapshot.y_valid]),
        feature_names=snapshot.features,
    )
    valid = xgb.DMatrix(snapshot.x_valid, feature_names=snapshot.features)
    y = np.asarray(snapshot.y_valid, dtype=float)
    train_only = xgb.train(card["xgboost_params"], train, rounds).predict(valid)
    # The card's metrics are the train-only fit's, recomputed here independently.
    rmse = float(np.sqrt(np.mean((y - train_only) ** 2)))
    assert card["metrics"]["rmse"] == pytest.approx(rmse, rel=1e-4)
    shipped = xgb.Booster(model_file=str(layout.model_dir / MODEL_FILE))
    assert shipped.num_boosted_rounds() == rounds
    refit = xgb.train(card["xgboost_params"], both, rounds).predict(valid)
    np.testing.assert_allclose(shipped.predict(valid), refit, rtol=1e-5)
    # It saw the valid rows: closer to them than the train-only fit.
    assert standard_scores("regression", "rmse", y, refit)["rmse"] < rmse


def test_the_report_lists_the_stage_timings_recorded_by_the_tasks(tmp_path: Path) -> None:
    spec, layout, storage = tuned(tmp_path)
    start = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    record_stage(layout, "etl", -1, 1, start, start + timedelta(seconds=42))
    record_stage(layout, "tune", 1, 2, start + timedelta(minutes=2), start + timedelta(minutes=5))
    record_stage(layout, "tune", 1, 3, start + timedelta(minutes=6), start + timedelta(minutes=7))
    stages = read_stages(layout)
    assert [(s["task"], s["try_number"]) for s in stages] == [("etl", 1), ("tune", 3)]
    export_best(spec, layout, storage, "journal")
    page = (layout.model_dir / REPORT_FILE).read_text()
    assert "<td>etl</td><td>1</td><td>2026-11-22T00:00:00+00:00</td><td>42.0</td>" in page
    assert "<td>tune[1]</td><td>3</td><td>2026-11-22T00:06:00+00:00</td><td>60.0</td>" in page


@pytest.mark.parametrize("store", ["file", "sqlite"])
def test_mlflow_logs_the_run_and_registers_a_champion_version(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)
    mlflow: dict[str, str] = {"experiment": "retune-test", "registered_model": "demo_regression"}
    if store == "file":  # MLflow's file store, in maintenance mode: opt in to it
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        uri = (tmp_path / "mlruns").as_uri()
    else:
        uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
        mlflow["artifact_location"] = (tmp_path / "artifacts").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    spec, layout, storage = tuned(tmp_path, mlflow=mlflow)
    result = export_best(spec, layout, storage, "journal")
    logged = json.loads((layout.model_dir / MLFLOW_FILE).read_text())
    assert result["mlflow"] == logged and logged["model_version"] == "1"
    client = MlflowClient(uri, uri)
    run = client.get_run(logged["run_id"])
    card = json.loads((layout.model_dir / CARD_FILE).read_text())
    assert run.info.status == "FINISHED"
    assert run.data.metrics["rmse"] == pytest.approx(card["metrics"]["rmse"])
    assert run.data.params == {k: str(v) for k, v in card["params"].items()}
    assert run.data.tags["retune.promoted"] == "true"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
    assert {"model/model.ubj", "model/model_card.json", "model/report.html"} <= artifacts
    version = client.get_model_version_by_alias("demo_regression", "champion")
    assert str(version.version) == "1" and version.run_id == run.info.run_id
    if store == "sqlite":
        stored = tmp_path / "artifacts" / run.info.run_id / "artifacts" / "model" / MODEL_FILE
        assert stored.is_file() and not (tmp_path / "mlruns").exists()
    local = client.download_artifacts(run.info.run_id, "model/model.ubj", str(tmp_path / "dl"))
    assert xgb.Booster(model_file=local).num_boosted_rounds() == card["num_boost_round"]


def test_mlflow_without_a_tracking_uri_fails_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec, layout, storage = tuned(tmp_path, mlflow={"experiment": "x"})
    with pytest.raises(RetuneError, match="export.mlflow is set but has no tracking URI"):
        export_best(spec, layout, storage, "journal")
    assert not layout.model_dir.exists() and not layout.champion_file.exists()


def test_no_mlflow_section_logs_nothing(tmp_path: Path) -> None:
    spec, layout, storage = tuned(tmp_path)
    result = export_best(spec, layout, storage, "journal")
    assert "mlflow" not in result and not (layout.model_dir / MLFLOW_FILE).exists()


def test_a_segments_model_is_registered_under_its_own_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each segment's champion alias moves with that segment's promotions only."""
    from mlflow import MlflowClient

    from tasks.core import MlflowSpec
    from tasks.export.mlflow_log import log_export

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = MlflowSpec(
        tracking_uri=uri,
        registered_model="delays",
        artifact_location=(tmp_path / "artifacts").as_uri(),
    )
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model_card.json").write_text("{}")
    card = a_card("p", "2026-11-21", segment={"key": "UA", "value": "UA"})
    logged = log_export(settings, folder, card, promoted=True)
    assert logged["registered_model"] == "delays.UA" and logged["model_version"] == "1"
    client = MlflowClient(uri, uri)
    assert client.get_run(logged["run_id"]).data.tags["retune.segment"] == "UA"
    assert str(client.get_model_version_by_alias("delays.UA", "champion").version) == "1"
