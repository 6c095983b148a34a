"""Segmented tuning through the running Airflow on real MySQL: the flights-by-carrier
example over two days (a backfill), then a rerun of the first."""

from __future__ import annotations

import json
from typing import Any

import optuna
import pytest

from tasks.core import Layout
from tasks.tuning import study_name
from tasks.tuning.study import BUDGET_ATTR, PARENT_ATTR
from tests.e2e.conftest import SEGMENT_TRIALS, SEGMENTS_DAG_ID, SEGMENTS_DAYS, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.mysql]

PIPELINE = "flights_by_carrier"


def index_of(stack: Stack, ds: str) -> dict[str, Any]:
    return dict(json.loads(Layout(stack.storage, PIPELINE, ds).segments_index_file.read_text()))


def test_each_day_tunes_and_exports_every_large_carrier_and_leaves_the_small_to_global(
    stack: Stack, segments_runs: dict[str, Any], mysql_url: str
) -> None:
    # Unpaused, the pipeline over 2013 started no run of its own: only the backfill's.
    assert sorted(stack.runs(SEGMENTS_DAG_ID)) == sorted(SEGMENTS_DAYS)
    for ds in SEGMENTS_DAYS:
        assert segments_runs["runs"][ds]["run_type"] == "backfill"
        index = index_of(stack, ds)
        own = {k: e for k, e in index["segments"].items() if not e["fallback"]}
        small = {k for k, e in index["segments"].items() if e.get("fallback_reason") == "too_small"}
        assert len(index["segments"]) >= 5 and len(own) >= 3 and small, ds
        layout = Layout(stack.storage, PIPELINE, ds)
        for key, entry in own.items():
            study = optuna.load_study(study_name=entry["study"], storage=mysql_url)
            finished = [t for t in study.trials if t.state.is_finished()]
            assert len(finished) == len(study.trials) == SEGMENT_TRIALS, (ds, key)
            assert study.user_attrs[BUDGET_ATTR] == SEGMENT_TRIALS
            assert layout.for_segment(key).card_file.is_file()
            assert layout.for_segment(key).champion_file.is_file()
        for key in small:
            assert not layout.for_segment(key).model_dir.exists()
        assert layout.card_file.is_file() and layout.segments_report_file.is_file()


def test_the_second_day_warm_starts_each_segment_from_its_own_first_day(
    stack: Stack, segments_runs: dict[str, Any], mysql_url: str
) -> None:
    first, second = SEGMENTS_DAYS
    both = set(index_of(stack, first)["segments"]) & set(index_of(stack, second)["segments"])
    tuned_both = [
        k
        for k in both
        if not index_of(stack, first)["segments"][k]["fallback"]
        and not index_of(stack, second)["segments"][k]["fallback"]
    ]
    assert tuned_both
    for key in tuned_both:
        study = optuna.load_study(study_name=study_name(PIPELINE, second, key), storage=mysql_url)
        assert study.user_attrs[PARENT_ATTR] == study_name(PIPELINE, first, key)


def test_a_rerun_resumes_every_segments_study_and_rewrites_the_index(
    stack: Stack, segments_runs: dict[str, Any], mysql_url: str
) -> None:
    first = SEGMENTS_DAYS[0]
    before, after = segments_runs["index_before_rerun"], index_of(stack, first)
    # The rerun reprocessed the day's run (the same run id) and wrote the index again.
    assert after["run_id"] == segments_runs["rerun"]["run_id"] == before["run_id"]
    assert after["created_at"] > before["created_at"]
    for key, entry in after["segments"].items():
        if entry["fallback"]:
            continue
        study = optuna.load_study(study_name=entry["study"], storage=mysql_url)
        assert len(study.trials) == SEGMENT_TRIALS  # resumed: nothing added
        assert entry["trials"] == before["segments"][key]["trials"]


def test_a_carrier_too_small_on_the_second_day_keeps_its_first_days_champion(
    stack: Stack, segments_runs: dict[str, Any]
) -> None:
    first, second = SEGMENTS_DAYS
    # EV: 113 train rows on 2013-03-01, 72 on 2013-03-02 (under min_rows 80).
    assert index_of(stack, first)["segments"]["EV"]["fallback"] is False
    assert index_of(stack, second)["segments"]["EV"]["fallback_reason"] == "too_small"
    champion = Layout(stack.storage, PIPELINE, second).for_segment("EV").champion_file
    assert json.loads(champion.read_text())["ds"] == first
    assert not Layout(stack.storage, PIPELINE, second).for_segment("EV").model_dir.exists()


def test_each_segmented_run_adds_a_history_line_that_counts_its_segments(
    stack: Stack, segments_runs: dict[str, Any]
) -> None:
    from tasks.export.history import read_history

    layout = Layout(stack.storage, PIPELINE, SEGMENTS_DAYS[0])
    lines = [e.model_dump() for e in read_history(layout.history_file)]
    # Two backfilled days, then the rerun of the first: a line each, in that order.
    assert [e["ds"] for e in lines] == [*SEGMENTS_DAYS, SEGMENTS_DAYS[0]]
    assert lines[-1]["run_id"] == segments_runs["rerun"]["run_id"]
    # The first day's index is the rerun's now: the last two lines match the indexes.
    for entry in lines[1:]:
        index = index_of(stack, entry["ds"])
        own = sum(1 for e in index["segments"].values() if not e["fallback"])
        assert entry["segments"]["own_model"] == own, entry["ds"]
        assert entry["segments"]["fallback"] == len(index["segments"]) - own
    for entry in lines:
        counts = entry["segments"]
        assert counts["own_model"] >= 3 and 0 <= counts["promoted"] <= counts["own_model"]
    page = layout.pipeline_index_file.read_text()
    for ds in SEGMENTS_DAYS:
        assert f'<a href="ds={ds}/segments.html">' in page
