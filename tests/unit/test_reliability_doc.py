"""docs/reliability.md reports every case of the reliability suite."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT
from tests.reliability.hostile_cases import RUN_PARAM_CASES, SPEC_CASES

DOC = ROOT / "docs" / "reliability.md"
SUITE = [
    *sorted((ROOT / "tests" / "reliability").glob("test_*.py")),
    ROOT / "tests" / "e2e" / "test_task_killed.py",
    ROOT / "tests" / "e2e" / "test_no_secret_anywhere.py",
]


def suite_tests(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


def test_the_doc_names_every_test_of_the_suite() -> None:
    doc = DOC.read_text()
    names = [name for path in SUITE for name in suite_tests(path)]
    assert len(names) >= 20
    assert [name for name in names if f"`{name}`" not in doc] == []
    assert "`test_the_mysql_password_is_in_no_log_xcom_report_or_card`" in doc


def test_the_doc_lists_every_hostile_case() -> None:
    doc = DOC.read_text()
    cases = [*SPEC_CASES, *RUN_PARAM_CASES]
    assert len(cases) >= 15
    assert [case for case in cases if f"| {case}" not in doc] == []


def test_the_doc_has_no_unfilled_figure() -> None:
    assert "{" not in DOC.read_text().replace("{ds}", "")
