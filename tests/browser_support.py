"""A page rendered in headless Chromium with no network: its DOM after its scripts ran, a
screenshot, and the URLs it asked for."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

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
