"""Small runs of the benchmarks in bench/: they print JSON lines a program can read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.conftest import ROOT


def run_bench(script: str, *args: str) -> tuple[list[dict[str, Any]], str]:
    """Run ``bench/<script>`` with ``args`` (it must succeed): its JSON lines, all it printed."""
    module = "bench." + script.removesuffix(".py")
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    return lines, result.stdout
