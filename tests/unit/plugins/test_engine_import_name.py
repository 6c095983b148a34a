"""Another module named ``tasks`` (a user's tasks.py in the DAG folder) is named at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def import_retune(extra_path: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([*extra_path, str(ROOT / "plugins"), str(ROOT)])
    return subprocess.run(
        [sys.executable, "-c", "import retune.operators"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
        timeout=120,
        check=False,
    )


def test_a_shadowing_tasks_module_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text("def my_task():\n    pass\n")
    result = import_retune([str(tmp_path)], tmp_path)
    assert result.returncode != 0
    assert f"is {tmp_path / 'tasks.py'}, not Retune's engine" in result.stderr


def test_retune_imports_with_its_own_engine(tmp_path: Path) -> None:
    result = import_retune([], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
