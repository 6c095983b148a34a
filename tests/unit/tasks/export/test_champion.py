"""Export's champion/challenger on real studies (journal storage) and real XGBoost models."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from tasks.core import CARD_FILE, MODEL_FILE, ExportRefused
from tasks.export import best_model as export
from tasks.export import export_best, read_champion
from tasks.model import load_snapshot
from tests.export_support import DS, champion_model, tuned


def test_first_export_becomes_champion_with_the_standard_metrics(tmp_path: Path) -> None:
    spec, layout, storage = tuned(tmp_path)
    result = export_best(spec, layout, storage, "journal", run_id="manual__1")
    assert result["promoted"] is True and result["reason"] == "no champion yet"
    card = json.loads((layout.model_dir / CARD_FILE).read_text())
    booster = xgb.Booster(model_file=str(layout.model_dir / MODEL_FILE))
    snapshot = load_snapshot(layout.dataset_dir, spec)
    y = np.asarray(snapshot.y_valid, dtype=float)
    pred = booster.predict(xgb.DMatrix(snapshot.x_valid, feature_names=snapshot.features))
    # Recomputed here by hand, not with tasks.model.metrics.
    assert card["metrics"]["rmse"] == pytest.approx(math.sqrt(np.mean((y - pred) ** 2)), rel=1e-5)
    assert card["metrics"]["mae"] == pytest.approx(np.mean(np.abs(y - pred)), rel=1e-5)
    r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    assert card["metrics"]["r2"] == pytest.approx(r2, rel=1e-5)
    assert card["run_id"] == "manual__1" and card["seeds"]["base"] == spec.tuning.seed
    assert card["data"]["validation"]["success"] is True
    pointer = read_champion(layout)
    assert pointer is not None and pointer.ds == DS and pointer.value == card["metric"]["value"]
    # The champion's files are a copy: a rerun of its ds cannot change them.
    assert Path(pointer.model).read_bytes() == (layout.model_dir / MODEL_FILE).read_bytes()
    assert Path(pointer.model).parent != layout.model_dir
    assert json.loads(layout.champion_file.read_text())["format"] == "retune-champion/1"


def test_an_export_that_runs_again_in_the_run_that_promoted_it_stays_promoted(
    tmp_path: Path,
) -> None:
    """A retried export (its first try promoted, then lost its worker) is not compared with
    its own model: it stays the champion, with no not-promoted reason."""
    spec, layout, storage = tuned(tmp_path)
    first = export_best(spec, layout, storage, "journal", run_id="scheduled__1")
    again = export_best(spec, layout, storage, "journal", run_id="scheduled__1")
    assert first["promoted"] is True and again["promoted"] is True
    assert "its export ran again" in again["reason"]
    card = json.loads((layout.model_dir / CARD_FILE).read_text())
    assert card["champion"]["already_champion"] is True and card["approval"] is None
    pointer = read_champion(layout)
    assert pointer is not None and pointer.run_id == "scheduled__1"
    # Another run of the same day is a challenger like any other.
    other = export_best(spec, layout, storage, "journal", run_id="backfill__1")
    assert other["promoted"] is False and "does not beat the champion's" in other["reason"]


def test_a_worse_challenger_is_not_promoted_and_a_better_one_is(tmp_path: Path) -> None:
    spec, layout, storage = tuned(tmp_path)
    champion_model(layout, spec, rounds=300, tmp_path=tmp_path)  # strong
    before = layout.champion_file.read_bytes()
    result = export_best(spec, layout, storage, "journal")
    assert result["promoted"] is False
    assert "does not beat the champion's" in result["reason"]
    assert layout.champion_file.read_bytes() == before
    card = json.loads((layout.model_dir / CARD_FILE).read_text())
    assert card["champion"]["promoted"] is False
    assert card["champion"]["champion_value"] < card["metric"]["value"]
    assert card["champion"]["champion_ds"] == "2026-11-01"

    champion_model(layout, spec, rounds=1, tmp_path=tmp_path)  # weak
    result = export_best(spec, layout, storage, "journal")
    assert result["promoted"] is True and "beats the champion's" in result["reason"]
    pointer = read_champion(layout)
    assert pointer is not None and pointer.ds == DS


def test_a_gain_below_the_minimum_improvement_keeps_the_champion(tmp_path: Path) -> None:
    spec, layout, storage = tuned(tmp_path, min_improvement=1000.0)
    champion_model(layout, spec, rounds=1, tmp_path=tmp_path)
    before = layout.champion_file.read_bytes()
    result = export_best(spec, layout, storage, "journal")
    assert result["promoted"] is False
    assert "less than export.min_improvement = 1000" in result["reason"]
    assert layout.champion_file.read_bytes() == before


def test_a_nan_metric_exports_nothing_and_keeps_the_champion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, layout, storage = tuned(tmp_path)
    champion_model(layout, spec, rounds=1, tmp_path=tmp_path)
    before = layout.champion_file.read_bytes()
    monkeypatch.setattr(
        export, "standard_scores", lambda *_: {"rmse": float("nan"), "mae": 1.0, "r2": 0.0}
    )
    with pytest.raises(ExportRefused, match="rmse on the valid split is nan"):
        export_best(spec, layout, storage, "journal")
    assert layout.champion_file.read_bytes() == before
    assert not layout.model_dir.exists()


def external_resources(page: str) -> list[str]:
    from html.parser import HTMLParser

    found: list[str] = []

    class Resources(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            if tag in ("script", "img", "iframe") and values.get("src"):
                found.append(str(values["src"]))
            if tag == "link" and values.get("href"):
                found.append(str(values["href"]))

    Resources().feed(page)
    return found


def test_export_writes_a_self_contained_report_and_pngs(tmp_path: Path) -> None:
    from tasks.core import PLOTS_DIR, REPORT_FILE

    spec, layout, storage = tuned(tmp_path)
    result = export_best(spec, layout, storage, "journal")
    page = (layout.model_dir / REPORT_FILE).read_text()
    assert result["report"] == str(layout.model_dir / REPORT_FILE)
    # Offline: plotly.js is inside the page; no script or stylesheet is fetched.
    assert external_resources(page) == []
    assert page.count('class="plotly-graph-div"') == 6 + 3  # the run, then its history
    headings = ("Optimization history", "Parameter importances", "Feature importance")
    for heading in (*headings, "Trials per worker"):
        assert f"<h2>{heading}</h2>" in page
    assert "<th>complete</th><td>3</td>" in page
    assert "no champion yet" in page
    pngs = sorted((layout.model_dir / PLOTS_DIR).glob("*.png"))
    assert [p.name for p in pngs] == ["optimization_history.png", "parallel_coordinates.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_an_export_waits_for_the_champion_lock(tmp_path: Path) -> None:
    import threading
    import time

    from tasks.export import champion_lock

    spec, layout, storage = tuned(tmp_path)
    holding, released = threading.Event(), []

    def hold() -> None:
        with champion_lock(layout):
            holding.set()
            time.sleep(8)  # longer than the export's retrain, so it reaches the lock first
            released.append(time.time())

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait()
    export_best(spec, layout, storage, "journal")
    holder.join()
    # The champion was read and replaced only after the other holder let go.
    assert read_champion(layout) is not None
    assert layout.champion_file.stat().st_mtime >= released[0]
