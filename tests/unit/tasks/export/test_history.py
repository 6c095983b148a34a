"""The pipeline's history across days: lines appended by real exports, read back, charted."""

from __future__ import annotations

import json
import logging
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tasks.core import HistoryLine, Layout, record_stage
from tasks.export import export_best
from tasks.export.history import append_history, latest_per_day, read_history
from tests.export_support import tuned


def test_two_days_and_a_rerun_each_add_a_line_and_the_page_links_each_day(
    tmp_path: Path,
) -> None:
    days = ("2026-11-20", "2026-11-21")
    for ds in days:
        spec, layout, storage = tuned(tmp_path, ds)
        started = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
        record_stage(layout, "etl", -1, 1, started, started + timedelta(seconds=30))
        for worker in (0, 1):
            begin = started + timedelta(seconds=40)
            record_stage(layout, "tune", worker, 1, begin, begin + timedelta(seconds=50 + worker))
        export_best(spec, layout, storage, "journal", run_id=f"scheduled__{ds}")
    # A rerun of the second day: a line of its own; the page shows the day's last one.
    export_best(spec, layout, storage, "journal", run_id="manual__rerun")

    lines = read_history(layout.history_file)
    assert [(e.ds, e.run_id) for e in lines] == [
        ("2026-11-20", "scheduled__2026-11-20"),
        ("2026-11-21", "scheduled__2026-11-21"),
        ("2026-11-21", "manual__rerun"),
    ]
    first, second, _ = lines
    assert first.promoted is True and first.reason == "no champion yet"
    assert first.champion_value is None
    # Day two is scored against day one's champion on day two's valid split.
    assert second.champion_ds == "2026-11-20" and second.champion_value is not None
    assert second.trials["complete"] == 3 and second.rows == {"train": 1600, "valid": 400}
    assert second.stage_seconds == {"etl": 30.0, "tune": 51.0}
    assert second.wall_seconds == 91.0
    assert second.value == json.loads(layout.card_file.read_text())["metric"]["value"]
    assert len(str(second.spec_sha256)) == 64 and second.content_hash
    assert [e.run_id for e in latest_per_day(lines)] == [
        "scheduled__2026-11-20",
        "manual__rerun",
    ]

    index = layout.pipeline_index_file.read_text()
    assert "2 days" in index
    assert '<a href="ds=2026-11-20/report.html">' in index
    assert '<a href="ds=2026-11-21/report.html">' in index
    assert "manual__rerun" in index and "scheduled__2026-11-21" not in index
    assert index.count('class="plotly-graph-div"') == 3
    report = layout.report_file.read_text()
    assert "<h2>History</h2>" in report and '<a href="../index.html">' in report
    assert '<a href="../ds=2026-11-20/report.html">' in report
    # plotly.js embedded once, ahead of every figure that needs it.
    assert report.count("Plotly.newPlot") >= 3 + 6
    script = report.index("plotly.js v")
    assert script < report.index("Plotly.newPlot")


def _append_many(path: str, worker: int) -> None:
    for number in range(50):
        line = HistoryLine(ds="2026-11-21", run_id=f"w{worker}", value=number, reason="x" * 5000)
        append_history(Path(path), line)


def test_lines_from_four_processes_at_once_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(path), w)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join()  # no bound of its own: a hang is the suite's timeout, which names it
        assert process.exitcode == 0, f"writer {process.name} exited {process.exitcode}"
    lines = path.read_text().splitlines()
    assert len(lines) == 200
    entries = [json.loads(line) for line in lines]
    for worker in range(4):
        assert [e["value"] for e in entries if e["run_id"] == f"w{worker}"] == list(range(50))


def test_a_torn_last_line_is_skipped_with_a_warning_and_the_next_line_is_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "history.jsonl"
    append_history(path, HistoryLine(ds="2026-11-20", value=1.0))
    with path.open("a") as out:
        out.write('{"ds": "2026-11-21", "val')  # a writer killed mid-line
    append_history(path, HistoryLine(ds="2026-11-22", value=3.0))
    with caplog.at_level(logging.WARNING):
        entries = read_history(path)
    assert [e.ds for e in entries] == ["2026-11-20", "2026-11-22"]
    assert f"{path} line 2 is not JSON" in caplog.text
    assert read_history(tmp_path / "none.jsonl") == []
    assert Layout(tmp_path, "demo", "2026-11-21").history_file.name == "history.jsonl"


def test_lines_of_the_previous_version_read_and_newer_or_malformed_ones_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "history.jsonl"
    old = {"ds": "2026-11-20", "run_id": "scheduled__2026-11-20", "value": 1.0, "promoted": True}
    newer = {"format": "retune-history-line/2", "ds": "2026-11-21"}
    wrong = {"format": "retune-history-line/1", "ds": "2026-11-22", "value": "high"}
    path.write_text("".join(json.dumps(line) + "\n" for line in (old, newer, wrong)))
    append_history(path, HistoryLine(ds="2026-11-23", value=2.0))
    with caplog.at_level(logging.WARNING):
        entries = read_history(path)
    assert [(e.ds, e.value, e.promoted) for e in entries] == [
        ("2026-11-20", 1.0, True),
        ("2026-11-23", 2.0, False),
    ]
    assert f"{path} line 2: written by a newer Retune" in caplog.text
    assert f"{path} line 3: malformed: value: " in caplog.text
    assert json.loads(path.read_text().splitlines()[-1])["format"] == "retune-history-line/1"
