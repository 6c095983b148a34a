"""Drift from the champion's snapshot: profiles in the manifest and card, scores, the gate."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from bench.staging import stage_frame
from tasks.core import DriftDetected, Layout, SnapshotManifest, SpecError, parse_spec
from tasks.data import make_frame, run_materialize
from tasks.data.drift import categorical_profile, current_counts, psi, reference_bins
from tasks.export import export_best
from tasks.export.history import read_history
from tasks.tuning import WorkerIdentity, create_study, run_worker, study_name
from tests.conftest import demo_spec_data
from tests.export_support import tuned

DAY_2 = "2026-11-22"


def test_psi_is_zero_for_the_same_shares_and_grows_with_the_shift() -> None:
    assert psi([10, 20, 30], [20, 40, 60]) == (0.0, 3)
    small, _ = psi([100, 100], [110, 90])
    large, _ = psi([100, 100], [190, 10])
    assert 0 < small < 0.05 < 1 < large
    # An empty bin on one side counts as a tiny share, never a division by zero.
    assert psi([0, 100], [50, 50])[0] > 3
    assert psi([], []) == (0.0, 0)


def test_a_category_profile_keeps_the_frequent_values_and_counts_the_rest_and_nulls() -> None:
    values = ["a"] * 50 + ["b"] * 30 + [f"rare{i}" for i in range(25)] + [None] * 5
    profile = categorical_profile(pa.chunked_array([values]))
    assert profile["rows"] == 110 and profile["nulls"] == 5
    assert list(profile["counts"])[:2] == ["a", "b"] and len(profile["counts"]) == 20
    assert profile["other"] == 7  # the rare values past the top 20
    names, counts = reference_bins(profile)
    assert names[-2:] == ["other", "null"] and sum(counts) == 110
    today = pa.chunked_array([["a"] * 10 + ["new"] * 10 + [None] * 2])
    assert current_counts(profile, today) == [10, *[0] * 19, 10, 2]


def stage_day(tmp_path: Path, spec: object, ds: str, shift: float = 0.0) -> Layout:
    frame = make_frame(date.fromisoformat(ds), 2000, seed=3)
    frame["f00"] = frame["f00"] + shift
    layout = Layout(tmp_path, "demo_regression", ds)
    stage_frame(layout, frame)
    return layout


def test_a_shifted_feature_stops_the_run_naming_it_and_accept_drift_publishes_it(
    tmp_path: Path,
) -> None:
    spec, first, storage = tuned(tmp_path, drift={"warn": 0.1, "error": 0.5})
    export_best(spec, first, storage, "journal")
    card = json.loads(first.card_file.read_text())
    manifest = json.loads(first.manifest_file.read_text())
    # The first day had no champion: profiled, nothing to compare with.
    assert manifest["drift"]["level"] == "none"
    assert manifest["drift"]["reference"]["reason"] == "no champion yet"
    profile = card["data"]["profile"]
    assert profile == manifest["profile"] and profile["rows"] == 2000
    f00 = profile["columns"]["f00"]
    assert f00["kind"] == "numeric" and len(f00["edges"]) == 9 and sum(f00["counts"]) == 2000
    assert profile["columns"]["y"]["kind"] == "numeric" and set(profile["columns"]) >= {"f19"}

    # Another day of the same process: nothing moved past its noise.
    same = stage_day(tmp_path, spec, DAY_2)
    drift = run_materialize(spec, same).drift
    assert drift is not None and drift.level == "ok" and drift.reference.ds == first.ds
    assert max(entry.score for entry in drift.columns.values()) < 0.1
    assert all(entry.psi < 0.05 for entry in drift.columns.values())

    # f00 moved by two standard deviations: the run stops before anything is published.
    ds = "2026-11-23"
    shifted = stage_day(tmp_path, spec, ds, shift=2.0)
    with pytest.raises(DriftDetected, match=r"f00 \(score [0-9.]+, PSI [0-9.]+\)") as caught:
        run_materialize(spec, shifted)
    assert "drift.error = 0.5" in str(caught.value) and "accept_drift" in str(caught.value)
    assert not shifted.dataset_dir.exists()
    report = json.loads(shifted.drift_file.read_text())
    assert report["level"] == "error" and report["errors"] == ["f00"] and not report["accepted"]
    assert report["ranked"][0] == "f00" and report["columns"]["f00"]["score"] > 0.5
    assert report["columns"]["f00"]["mean"][1] == pytest.approx(
        report["columns"]["f00"]["mean"][0] + 2.0, abs=0.15
    )

    # The run parameter accepts it: published, the drift kept in the manifest.
    accepting = parse_spec({**spec.model_dump(by_alias=True, mode="json"), "drift": {
        "warn": 0.1, "error": 0.5, "accept": True}})  # fmt: skip
    manifest = run_materialize(accepting, shifted)
    assert shifted.manifest_file.is_file()
    assert manifest.drift is not None
    assert manifest.drift.accepted is True and manifest.drift.errors == ["f00"]
    assert SnapshotManifest.read(shifted.manifest_file) == manifest

    # Its export: the card, the report and the history line carry the drift.
    create_study(storage, accepting, ds)
    identity = WorkerIdentity(0, 0, 1, 11, "cpu")
    run_worker(
        storage, {study_name(spec.name, ds): None}, accepting, str(shifted.dataset_dir), identity
    )
    export_best(accepting, shifted, storage, "journal")
    drift = json.loads(shifted.card_file.read_text())["data"]["drift"]
    assert drift["level"] == "error" and drift["accepted"] and next(iter(drift["top"])) == "f00"
    assert len(drift["top"]) == 10
    report = shifted.report_file.read_text()
    assert "accepted by the run parameter accept_drift" in report and "<td>f00</td>" in report
    lines = read_history(first.history_file)
    first_drift, last_drift = lines[0].drift, lines[-1].drift
    assert first_drift is not None and first_drift.level == "none"
    assert last_drift is not None and last_drift.errors == ["f00"] and last_drift.accepted
    assert "error (accepted): f00" in first.pipeline_index_file.read_text()


def test_ignored_features_are_profiled_but_never_scored(tmp_path: Path) -> None:
    spec, first, storage = tuned(tmp_path, drift={"error": 0.5, "ignore": ["f00"]})
    export_best(spec, first, storage, "journal")
    shifted = stage_day(tmp_path, spec, DAY_2, shift=2.0)
    manifest = run_materialize(spec, shifted)
    assert manifest.drift is not None and manifest.profile is not None
    assert "f00" not in manifest.drift.columns and manifest.drift.ignored == ["f00"]
    assert "f00" in manifest.profile["columns"]


def test_drift_settings_are_checked_naming_the_field() -> None:
    with pytest.raises(SpecError, match=r"drift.ignore: \['nope'\] are neither"):
        parse_spec({**demo_spec_data(), "drift": {"ignore": ["nope"]}})
    with pytest.raises(SpecError, match=r"error \(0.05\) is below warn \(0.1\)"):
        parse_spec({**demo_spec_data(), "drift": {"error": 0.05}})
    assert np.isclose(parse_spec(demo_spec_data()).drift.warn or 0, 0.1)
