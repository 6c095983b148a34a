"""The README stays a front door, and the links between the docs lead somewhere."""

from __future__ import annotations

import re

from tests.conftest import ROOT

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_readme_is_at_most_250_lines() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines: move a chapter to docs/"


def test_every_relative_link_of_the_docs_leads_to_a_file() -> None:
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_the_readme_leads_to_every_chapter_in_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    chapters = [p.name for p in sorted((ROOT / "docs").glob("*.md"))]
    assert [name for name in chapters if f"(docs/{name})" not in readme] == []
