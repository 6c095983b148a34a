"""replace_dir and file_written_aside: a reader never finds the published folder or file
missing or half-written."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tasks.core import file_written_aside, replace_dir, write_text_atomically
from tasks.core.atomic import exchange


def test_a_polling_reader_always_finds_a_complete_folder(tmp_path: Path) -> None:
    target = tmp_path / "ds=2026-11-21"
    with replace_dir(target) as tmp:
        (tmp / "_SUCCESS").touch()
    if not exchange(tmp_path / "ds=2026-11-21", target):  # exchanging a path with itself
        pytest.skip("no atomic exchange (renameat2) on this filesystem")
    misses = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            if not (target / "_SUCCESS").is_file():
                misses.append(1)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in range(200):
            with replace_dir(target) as tmp:
                (tmp / "data").write_text(str(version))
                (tmp / "_SUCCESS").touch()
    finally:
        stop.set()
        reader.join()
    assert misses == []
    assert (target / "data").read_text() == "199"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # nothing left aside


def test_a_failed_build_leaves_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "snap"
    with replace_dir(target) as tmp:
        (tmp / "data").write_text("old")
    with pytest.raises(RuntimeError), replace_dir(target) as tmp:
        (tmp / "data").write_text("half")
        raise RuntimeError("copy failed")
    assert (target / "data").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]


def test_a_file_written_aside_replaces_the_old_one_only_when_its_block_ends(
    tmp_path: Path,
) -> None:
    target = tmp_path / "champion.json"
    write_text_atomically(target, "old")
    with pytest.raises(RuntimeError), file_written_aside(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("write failed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # the half file is gone
    with file_written_aside(target) as first, file_written_aside(target) as second:
        assert first != second  # two writers never share a temporary file
        first.write_text("first")
        second.write_text("second")
    assert target.read_text() == "first"  # the outer block ended last
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
