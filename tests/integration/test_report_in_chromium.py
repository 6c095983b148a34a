"""The export report renders in headless Chromium with no network: plots drawn, nothing fetched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tasks.export import export_best
from tests.browser_support import render
from tests.export_support import tuned

pytestmark = pytest.mark.browser


def test_the_report_renders_offline_in_headless_chromium(chromium: str, tmp_path: Path) -> None:
    from PIL import Image

    spec, layout, storage = tuned(tmp_path)
    report = Path(export_best(spec, layout, storage, "journal")["report"])
    dom, screenshot, urls = render(chromium, report, tmp_path)

    # Every plot container was filled by plotly.js (embedded in the page) with an SVG.
    graphs = re.split(r'<div id="[^"]+" class="plotly-graph-div', dom)[1:]
    # the pipeline's days (scores, rows, trials and time), then the run's: optimization
    # history, parameter importances, parallel coordinates, slices, feature importance,
    # trials per worker
    assert len(graphs) == 3 + 6
    for graph in graphs:
        assert 'class="plot-container plotly"' in graph[:400] and "main-svg" in graph[:4000]
    assert "Stage timings" in dom and "no champion yet" in dom
    assert "Feature importance (total gain)" in dom and "f00 (numeric)" in dom

    assert [u for u in urls if not u.startswith("file:")] == [], "the page fetched from a network"
    image = Image.open(screenshot)
    assert image.format == "PNG" and image.size == (1280, 6000)
    top = image.convert("RGB").crop((0, 0, 1280, 3000))
    assert len(top.getcolors(maxcolors=1 << 20) or []) > 50  # text and plots, not a blank page
    print(json.dumps({"screenshot": str(screenshot)}))
