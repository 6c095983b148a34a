"""The local MySQL server as its administrator (root, no password), as docker/'s scripts
and the tests that check them use it (the ``mysql_admin`` fixture is in tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"


def mysql_root(
    *sql: str, user: str = "root", password: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mysql", f"--user={user}", "--host=127.0.0.1", "--batch", "-e", ";".join(sql)],
        env={**os.environ, "MYSQL_PWD": password},
        capture_output=True,
        text=True,
        check=False,
    )
