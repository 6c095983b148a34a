"""Stage documents: read back whole, refused with the file, format and field when not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic_core import PydanticSerializationError

from tasks.core import (
    ChampionPointer,
    Document,
    DocumentError,
    DriftReport,
    ModelCard,
    ReportParts,
    SegmentsIndex,
    SnapshotManifest,
)


class Note(Document):
    NAME: ClassVar[str] = "retune-test-note"
    VERSION: ClassVar[int] = 2

    ds: str
    value: float

    @classmethod
    def legacy(cls, data: dict[str, Any]) -> dict[str, Any] | None:
        return {"ds": data["day"], "value": data["value"]} if "day" in data else None


def test_a_document_round_trips_with_its_format(tmp_path: Path) -> None:
    path = Note(ds="2026-11-21", value=0.5).write(tmp_path / "note.json")
    assert json.loads(path.read_text())["format"] == "retune-test-note/2"
    assert Note.read(path) == Note(ds="2026-11-21", value=0.5)
    # An older version of the same document reads as this one.
    path.write_text(json.dumps({"format": "retune-test-note/1", "ds": "x", "value": 1}))
    assert Note.read(path).value == 1.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, r"note.json \(retune-test-note/2\): missing"),
        ('{"format": "retune-test-note/2", "ds": "x"', r"not whole JSON \(torn or edited"),
        ("[1, 2]", "not a JSON object"),
        ('{"format": "retune-test-note/3", "ds": "x", "value": 1}', r"written by a newer Retune"),
        ('{"format": "retune-run-spec/1"}', r"holds format 'retune-run-spec/1', not retune-test"),
        ('{"format": "retune-test-note/2", "ds": "x", "value": "high"}', r"malformed: value: "),
        ('{"format": "retune-test-note/2", "ds": "x", "value": 1, "extra": 2}', r"extra: "),
        ('{"ds": "x", "value": 1}', r"before documents had a format.*run the day again"),
    ],
)
def test_a_document_that_cannot_be_read_is_refused_with_the_file_and_why(
    tmp_path: Path, text: str | None, message: str
) -> None:
    path = tmp_path / "note.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DocumentError, match=message) as raised:
        Note.read(path)
    assert str(path) in str(raised.value)


def test_a_document_from_before_formats_is_read_through_legacy(tmp_path: Path) -> None:
    path = tmp_path / "note.json"
    path.write_text(json.dumps({"day": "2026-11-21", "value": 2}))
    assert Note.read(path) == Note(ds="2026-11-21", value=2.0)


def test_a_write_that_fails_leaves_the_document_before_it(tmp_path: Path) -> None:
    path = ReportParts(figures={}).write(tmp_path / "parts.json")
    before = path.read_text()
    with pytest.raises(PydanticSerializationError):
        ReportParts.model_construct(figures={"x": {"bad": object()}}).write(path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["parts.json"]


def test_a_model_card_of_the_previous_version_reads_and_is_written_with_its_format(
    tmp_path: Path,
) -> None:
    """A card written before cards had a format (the same fields, no ``format``, no
    ``segment`` on a global model) reads as a ModelCard, and is written back with one."""
    from tests.export_support import a_card

    card = a_card("demo", "2026-11-21")
    old = json.loads(card.to_json())
    del old["format"], old["segment"]
    path = tmp_path / "model_card.json"
    path.write_text(json.dumps(old))
    assert ModelCard.read(path) == card
    card.write(path)
    assert json.loads(path.read_text())["format"] == "retune-model-card/1"


def test_a_card_missing_a_field_names_it_and_how_to_write_it_anew(tmp_path: Path) -> None:
    from tests.export_support import a_card

    data = json.loads(a_card("demo", "2026-11-21").to_json())
    del data["metric"]
    data["num_boost_round"] = "many"
    path = tmp_path / "model_card.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DocumentError) as raised:
        ModelCard.read(path)
    message = str(raised.value)
    assert f"{path} (retune-model-card/1): malformed:" in message
    assert "metric: Field required" in message and "num_boost_round: " in message


def test_a_champion_pointer_from_before_formats_reads(tmp_path: Path) -> None:
    path = tmp_path / "champion.json"
    path.write_text(
        json.dumps(
            {
                "metric": "rmse",
                "value": 0.5,
                "num_boost_round": 20,
                "run_id": "scheduled__2026-11-21",
                "ds": "2026-11-21",
                "model": "/s/models/p/champions/ds=2026-11-21.ab12cd34/model.json",
                "files": ["/s/models/p/champions/ds=2026-11-21.ab12cd34/model.json"],
                "promoted_at": "2026-11-21T06:00:00+00:00",
            }
        )
    )
    pointer = ChampionPointer.read(path)
    assert (pointer.ds, pointer.num_boost_round) == ("2026-11-21", 20)
    path.write_text(json.dumps({"format": "retune-champion/2", "ds": "x"}))
    with pytest.raises(DocumentError, match="written by a newer Retune"):
        ChampionPointer.read(path)


# A manifest as materialize wrote it before manifests had a format: "schema", a drift
# report without a format, a categorical column's drift without "mean".
MANIFEST_BEFORE_FORMATS: dict[str, Any] = {
    "pipeline": "flights_delay",
    "ds": "2013-03-02",
    "rows": {"train": 593, "valid": 161},
    "segments": {"UA": {"value": "UA", "rows": {"train": 120, "valid": 30}, "content_hash": "c1"}},
    "schema": {"carrier": "string", "arr_delay": "double"},
    "features": ["carrier", "dep_delay"],
    "categories": {"carrier": {"values": ["UA", "B6"], "distinct_in_train": 2}},
    "unlabeled": 11,
    "ignored_columns": ["year"],
    "content_hash": "ab12",
    "source": "/s/raw/flights_delay/ds=2013-03-02",
    "source_file_count": 1,
    "source_files": ["flights.csv"],
    "rows_read": 765,
    "quarantined": 0,
    "duplicates_removed": 0,
    "engine": "spark-cpu",
    "validation": {
        "success": True,
        "evaluated": 14,
        "warnings": 0,
        "warned": [],
        "result_path": "/s/staging/result.json",
        "data_docs": None,
    },
    "created_at": "2026-12-01T06:00:00+00:00",
    "profile": {"format": 1, "rows": 754, "target": "arr_delay", "columns": {}},
    "drift": {
        "level": "ok",
        "reference": {"ds": "2013-03-01", "card": "/s/models/p/champions/x/model_card.json"},
        "thresholds": {"warn": 0.1, "error": None},
        "ignored": ["day_of_week"],
        "errors": [],
        "warned": [],
        "accepted": False,
        "ranked": ["carrier"],
        "columns": {
            "carrier": {
                "kind": "categorical",
                "role": "feature",
                "score": 0.01,
                "psi": 0.03,
                "noise": 0.02,
                "level": "ok",
                "rows": [754, 754],
                "null_share": [0.0, 0.0],
                "most_moved_bin": {"bin": "UA", "reference": 0.2, "today": 0.25},
            }
        },
    },
}


def test_a_manifest_from_before_formats_reads_and_is_written_with_its_format(
    tmp_path: Path,
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(MANIFEST_BEFORE_FORMATS))
    manifest = SnapshotManifest.read(path)
    assert manifest.column_types == {"carrier": "string", "arr_delay": "double"}
    assert manifest.segments is not None and manifest.segments["UA"].rows["train"] == 120
    assert manifest.validation is not None and manifest.validation.evaluated == 14
    assert manifest.drift is not None and manifest.drift.columns["carrier"].mean is None
    assert manifest.drift.reference.ds == "2013-03-01" and not manifest.drift.stops
    manifest.write(path)
    written = json.loads(path.read_text())
    assert written["format"] == "retune-snapshot-manifest/1"
    assert written["schema"] == MANIFEST_BEFORE_FORMATS["schema"]  # the field's name on disk
    assert SnapshotManifest.read(path) == manifest


def test_a_manifest_from_a_newer_retune_or_without_its_rows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({**MANIFEST_BEFORE_FORMATS, "format": "retune-snapshot-manifest/2"}))
    with pytest.raises(DocumentError, match="written by a newer Retune"):
        SnapshotManifest.read(path)
    data = {k: v for k, v in MANIFEST_BEFORE_FORMATS.items() if k != "rows"}
    path.write_text(json.dumps(data))
    with pytest.raises(DocumentError, match=r"\(retune-snapshot-manifest/1\): malformed: rows: "):
        SnapshotManifest.read(path)


def test_a_drift_report_from_before_formats_reads(tmp_path: Path) -> None:
    path = tmp_path / "drift.json"
    path.write_text(json.dumps({**MANIFEST_BEFORE_FORMATS["drift"], "level": "error"}))
    report = DriftReport.read(path)
    assert report.stops and report.ranked == ["carrier"]
    none_yet = {"level": "none", "reference": {"reason": "no champion yet"}, "thresholds": {}}
    path.write_text(json.dumps({**none_yet, "columns": {}}))
    assert DriftReport.read(path).reference.reason == "no champion yet"


def test_a_segments_index_from_before_formats_reads(tmp_path: Path) -> None:
    """As export wrote it before formats: own-model entries without an error, fallback
    entries without a study, trials or model."""
    trials = {"complete": 6, "pruned": 0, "failed": 0, "fit_seconds": 1.5}
    model = {"model_dir": "/s/m", "metric": 11.2, "promoted": True, "reason": "no champion"}
    old = {
        "pipeline": "flights_by_carrier",
        "ds": "2013-03-01",
        "run_id": "backfill__2013-03-01T00:00:00+00:00",
        "metric": "rmse",
        "direction": "minimize",
        "segmentation": {"column": "carrier", "min_rows": 80},
        "plan": {"global_trials": 6, "tuned": {"UA": 6}, "fallback": {"HA": "too_small"}},
        "global": {"study": "flights_by_carrier-2013-03-01", "trials": trials, **model},
        "segments": {
            "UA": {
                "value": "UA",
                "rows": {"train": 120, "valid": 30},
                "study": "s-UA",
                "trials": trials,
                "fallback": False,
                **model,
            },
            "HA": {
                "value": "HA",
                "rows": {"train": 3, "valid": 1},
                "fallback": True,
                "fallback_reason": "too_small",
            },
        },
        "created_at": "2026-12-02T06:00:00+00:00",
    }
    path = tmp_path / "segments.json"
    path.write_text(json.dumps(old))
    index = SegmentsIndex.read(path)
    assert (index.own_models, index.fallbacks) == (["UA"], ["HA"])
    assert index.global_model.metric == 11.2 and index.segments["HA"].trials is None
    index.write(path)
    assert json.loads(path.read_text())["global"]["study"] == "flights_by_carrier-2013-03-01"
    path.write_text(json.dumps({**old, "segments": {"UA": {"value": "UA"}}}))
    with pytest.raises(DocumentError, match=r"segments.UA.rows: Field required"):
        SegmentsIndex.read(path)
