"""The export report renders in headless Chromium with no network: plots drawn, nothing fetched."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tasks.export import export_best
from tests.export_support import tuned

pytestmark = pytest.mark.browser

# No route out (a dead proxy, every host unresolvable) and none of the browser's own traffic.
OFFLINE = (
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-pings",
)


def render(chromium: str, page: Path, out: Path) -> tuple[str, Path, list[str]]:
    """The DOM after the page's scripts ran, a full-page screenshot, the URLs it requested."""
    screenshot, net_log = out / "report.png", out / "net.json"
    command = [
        chromium,
        "--headless",
        "--no-sandbox",  # the test may run as root
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={out / 'profile'}",
        *OFFLINE,
        f"--log-net-log={net_log}",
        "--virtual-time-budget=15000",
        "--window-size=1280,6000",
        f"--screenshot={screenshot}",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)
    return done.stdout, screenshot, page_requests(net_log)


def page_requests(net_log: Path) -> list[str]:
    """URLs the page asked for; the browser's own requests have no origin as initiator."""
    text = net_log.read_text()
    try:
        events = json.loads(text)["events"]
    except json.JSONDecodeError:  # a log cut short at exit lacks its closing brackets
        events = json.loads(text.rstrip().rstrip(",") + "]}")["events"]
    return [
        e["params"]["url"]
        for e in events
        if "url" in e.get("params", {})
        and e["params"].get("initiator", "not an origin") != "not an origin"
    ]


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
