"""Segments: the spec section's checks, the plan of who gets a model, the layout of a
segment's files, study names and warm start per segment."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from bench.staging import synthetic_manifest
from tasks.core import (
    Layout,
    SegmentEntry,
    SnapshotManifest,
    SpecError,
    parse_spec,
    with_overrides,
)
from tasks.model import SegmentPlan, plan_segments
from tasks.tuning import create_study, study_name, suggest
from tasks.tuning.storage import journal_url, open_storage
from tasks.tuning.study import ds_study_names
from tasks.tuning.warm_start import previous_study
from tests.conftest import demo_spec_data

DS = "2026-11-21"


def segmented(segments: dict[str, Any], **columns: Any) -> dict[str, Any]:
    data = demo_spec_data()
    data["schema"]["columns"].update({"region": "string", "store": "long", **columns})
    data["segments"] = segments
    return data


def test_column_segments_parse_and_leave_the_global_feature_on_by_default() -> None:
    spec = parse_spec(segmented({"column": "region"}))
    assert spec.segment_column == "region" and "region" in spec.model_features
    off = parse_spec(segmented({"column": "region", "global_feature": False}))
    assert "region" not in off.model_features


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ({}, "segments: Value error, give either column or filters"),
        (
            {"column": "region", "filters": [{"name": "a", "where": "f00 > 0"}]},
            "give either column or filters",
        ),
        ({"column": "nowhere"}, "segments.column 'nowhere' is not declared in schema.columns"),
        ({"column": "y"}, "segments.column 'y' is the key, target or timestamp"),
        ({"column": "f00"}, "segments.column 'f00' must be a string, int, long or boolean"),
        (
            {"filters": [{"name": "west", "where": "region IN ('CA', 'OR'"}]},
            "segments.filters: [0] 'west': \"region IN ('CA', 'OR'\" does not parse",
        ),
        (
            {"filters": [{"name": "west", "where": "regio = 'CA'"}]},
            "refers to unknown column(s) ['regio']",
        ),
        (
            {"filters": [{"name": "a", "where": "f00 > 0"}, {"name": "a", "where": "f00 < 0"}]},
            "filter name(s) ['a'] are given twice",
        ),
        (
            {"filters": [{"name": "no/slash", "where": "f00 > 0"}]},
            "segments.filters[0].name: Value error, 'no/slash': 1 to 48 letters",
        ),
        (
            {"filters": [{"name": "unsegmented", "where": "f00 > 0"}]},
            "'unsegmented' is reserved for the rows no filter matches",
        ),
        (
            {
                "filters": [{"name": f"s{i}", "where": "f00 > 0"} for i in range(3)],
                "max_segments": 2,
            },
            "3 filters exceed max_segments = 2",
        ),
        (
            {"filters": [{"name": "a", "where": "f00 > 0"}], "global_feature": True},
            "global_feature applies to column segments only",
        ),
        (
            {"filters": [{"name": "a", "where": "f00 > 0"}], "only": ["b"]},
            "only: unknown segment(s) ['b']; known: ['a']",
        ),
        ({"column": "region", "n_trials": 0}, "segments.n_trials: Input should be greater"),
    ],
)
def test_bad_segments_are_named_at_spec_load(segments: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(segmented(segments), source="specs/seg.yaml")
    assert message in str(caught.value)


def test_the_segment_column_name_is_reserved() -> None:
    data = segmented({"column": "region"}, retune_segment="string")
    with pytest.raises(SpecError, match="'retune_segment' is reserved"):
        parse_spec(data)


def test_a_run_may_narrow_to_some_segments_but_not_on_a_pipeline_without_any() -> None:
    spec = parse_spec(segmented({"column": "region"}))
    assert with_overrides(spec, {"segments": ["CA"]}).segments.only == ["CA"]  # type: ignore[union-attr]
    plain = parse_spec(demo_spec_data())
    with pytest.raises(SpecError, match="run parameter 'segments': pipeline demo_regression has"):
        with_overrides(plain, {"segments": ["CA"]})


def manifest(rows: dict[str, tuple[int, int]]) -> SnapshotManifest:
    segments = {
        key: SegmentEntry(value=key, rows={"train": t, "valid": v}) for key, (t, v) in rows.items()
    }
    totals = {split: sum(e.rows[split] for e in segments.values()) for split in ("train", "valid")}
    return synthetic_manifest(DS, totals, ["region", "x"], segments=segments)


def test_the_plan_gives_large_segments_a_budget_and_the_rest_to_the_global_model() -> None:
    spec = parse_spec(segmented({"column": "region", "min_rows": 100, "n_trials": 7}))
    plan = plan_segments(
        spec, manifest({"CA": (500, 100), "OR": (100, 20), "WA": (99, 30), "NV": (300, 0)})
    )
    assert plan.tuned == {"CA": 7, "OR": 7}
    assert plan.fallback == {"WA": "too_small", "NV": "too_small"}
    assert plan.global_trials == spec.tuning.n_trials == 12
    assert plan.total_trials == 26


def test_a_cap_shares_what_the_global_model_leaves_larger_segments_first() -> None:
    spec = parse_spec(
        segmented({"column": "region", "min_rows": 1, "n_trials": 10, "max_total_trials": 28})
    )
    plan = plan_segments(spec, manifest({"a": (10, 1), "b": (30, 1), "c": (20, 1)}))
    assert plan.global_trials == 12
    assert plan.tuned == {"b": 6, "c": 5, "a": 5} and plan.total_trials == 28
    tight = parse_spec(segmented({"column": "region", "min_rows": 1, "max_total_trials": 4}))
    with pytest.raises(SpecError, match="segments.max_total_trials = 4 leaves too few trials"):
        plan_segments(tight, manifest({"a": (10, 1), "b": (30, 1), "c": (20, 1)}))


def test_a_narrowed_run_tunes_only_the_named_segments_and_refuses_unknown_ones() -> None:
    spec = parse_spec(segmented({"column": "region", "min_rows": 1, "only": ["b"]}))
    plan = plan_segments(spec, manifest({"a": (10, 1), "b": (30, 1)}))
    assert list(plan.tuned) == ["b"] and plan.fallback == {"a": "not_selected"}
    with pytest.raises(SpecError, match=r"segments.only names segment\(s\) \['b'\] that the data"):
        plan_segments(spec, manifest({"a": (10, 1)}))


def test_rows_no_filter_matches_are_left_to_the_global_model() -> None:
    spec = parse_spec(segmented({"filters": [{"name": "west", "where": "region = 'CA'"}],
                                 "min_rows": 1}))  # fmt: skip
    plan = plan_segments(spec, manifest({"west": (10, 2), "unsegmented": (50, 10)}))
    assert plan.tuned == {"west": 10} and plan.fallback == {"unsegmented": "unmatched"}


def test_a_segment_has_its_own_model_champion_and_checkpoints_but_shares_the_data(
    tmp_path: Any,
) -> None:
    layout = Layout(tmp_path, "p", DS)
    seg = layout.for_segment("UA")
    assert seg.dataset_dir == layout.dataset_dir
    assert seg.model_dir == layout.model_dir / "segment=UA"
    assert seg.champion_file == layout.pipeline_models_dir / "segment=UA" / "champion.json"
    assert seg.checkpoints_dir == layout.checkpoints_dir / "segment=UA"
    assert (
        seg.segments_index_file == layout.segments_index_file == layout.model_dir / "segments.json"
    )
    assert seg.whole == layout
    with pytest.raises(Exception, match="not a segment key"):
        layout.for_segment("../x")


def test_each_segment_has_its_study_and_warm_starts_from_its_own_previous_one(
    tmp_path: Any,
) -> None:
    spec = parse_spec(segmented({"column": "region", "min_rows": 1, "n_trials": 3}))
    storage = open_storage(journal_url(tmp_path / "journal.log"))
    assert study_name("p", DS, "CA") == f"retune.p.{DS}.CA"
    day1 = create_study(storage, spec, "2026-11-20", plan=SegmentPlan(3, {"CA": 3}))
    study = optuna.load_study(study_name=day1["segments"]["CA"]["study_name"], storage=storage)
    for value in (3.0, 1.0, 2.0):  # the day's budget, run
        trial = study.ask()
        suggest(trial, spec.search_space)
        study.tell(trial, value)
    assert previous_study(storage, spec.name, DS, "CA") == study_name(spec.name, "2026-11-20", "CA")
    assert previous_study(storage, spec.name, DS) == study_name(spec.name, "2026-11-20")
    assert previous_study(storage, spec.name, DS, "OR") is None

    plan = plan_segments(spec, manifest({"CA": (10, 1), "OR": (10, 1)}))
    created = create_study(storage, spec, DS, plan=plan)
    assert created["segments"]["CA"]["warm_started"] == 3
    assert created["segments"]["CA"]["parent_study"] == study_name(spec.name, "2026-11-20", "CA")
    assert created["segments"]["OR"]["warm_started"] == 0
    names = ds_study_names(storage, spec.name, DS)
    assert names == sorted(study_name(spec.name, DS, s) for s in (None, "CA", "OR"))

    fresh = create_study(storage, spec, DS, fresh=True, plan=plan)
    assert all(s["enqueued"] == 3 for s in fresh["segments"].values())
    assert fresh["archived_as"] is not None
    archived = [s.study_name for s in storage.get_all_studies() if ".archived-" in s.study_name]
    assert len(archived) == 3 and ds_study_names(storage, spec.name, DS) == names


def test_each_segment_gets_its_own_sampler_seed_and_the_global_study_the_workers() -> None:
    from tasks.tuning.seeds import study_seed

    assert study_seed(17, None) == 17
    seeds = {study_seed(17, key) for key in ("UA", "B6", "DL")}
    assert len(seeds) == 3 and 17 not in seeds
    assert study_seed(17, "UA") == study_seed(17, "UA") != study_seed(18, "UA")


def test_a_worker_holds_segments_matrices_while_its_budget_allows_then_drops_the_oldest(
    tmp_path: Any,
) -> None:
    from bench.segments import segmented_spec, write_segmented_snapshot
    from tasks.model import load_snapshot, plan_memory
    from tasks.tuning.loaded_data import LoadedData

    dataset = write_segmented_snapshot(tmp_path, 3, 500)
    spec = segmented_spec(dataset, 3, 2, 1, 10)
    one = plan_memory(load_snapshot(dataset, spec, segment="s000").manifest, spec).data_bytes
    roomy = LoadedData(str(dataset), spec, "cpu", budget_bytes=10 * one)
    for key in ("s000", "s001", "s000", "s002", None):
        roomy.get(key)
    assert list(roomy.held) == ["s001", "s000", "s002", None]  # least recently used first
    assert roomy.reads == {"s000": 1, "s001": 1, "s002": 1, "": 1}
    roomy.close()
    assert not roomy.held

    tight = LoadedData(str(dataset), spec, "cpu", budget_bytes=int(1.5 * one))
    first = tight.get("s000")
    tight.get("s001")
    assert list(tight.held) == ["s001"] and first.matrices.train is None  # closed
    tight.get("s000")
    assert tight.reads == {"s000": 2, "s001": 1}
    train = tight.get("s000").matrices.train
    assert train.num_row() == 400 and train.num_col() == 20  # no segment column
