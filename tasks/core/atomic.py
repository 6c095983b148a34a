"""Publish a folder whole or not at all: build it aside, then switch it into place."""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import functools
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


@functools.cache
def _renameat2() -> object | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.renameat2
    except (OSError, AttributeError):
        return None


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2``); False if unsupported."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    done = renameat2(  # type: ignore[operator]
        _AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE
    )
    return bool(done == 0)


def remove_leftovers(target: Path) -> list[Path]:
    """Remove the hidden folders an earlier, killed replace of ``target`` left behind.

    One writer replaces a target at a time (one run per pipeline and ds), so a hidden
    sibling is never another writer's work in progress.
    """
    leftovers = [
        path
        for pattern in (f".{target.name}.tmp-*", f".{target.name}.old-*")
        for path in target.parent.glob(pattern)
    ]
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
    return leftovers


@contextmanager
def replace_dir(target: Path) -> Iterator[Path]:
    """Yield a hidden sibling folder to fill; on success it replaces ``target``.

    Readers of ``target`` see the old folder or the new one: where the filesystem
    supports it the two are exchanged atomically, otherwise the old one is renamed
    away just before the new one takes its name. On any error the half-written
    folder is removed and ``target`` is left as it was. What a killed writer left
    aside (its hidden folders) is removed first.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        yield tmp
        if target.exists() and exchange(tmp, target):
            shutil.rmtree(tmp, ignore_errors=True)  # now holds the old folder
            return
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex}"
        if target.exists():
            os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def append_json_line(path: Path, entry: dict[str, Any]) -> None:
    """Add ``entry`` to ``path`` as one JSON line: a single write under an exclusive lock,
    then fsync, so lines of writers side by side never interleave.

    Writers on other hosts of a shared filesystem may not honour the lock; O_APPEND
    still puts each line whole at the end on a local or NFSv4 filesystem.
    """
    line = (json.dumps(entry, sort_keys=True) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        # A writer killed mid-line left it without its newline: start on a line of our own.
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"short write to {path}: {written} of {len(line)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def file_written_aside(path: Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` for the block to write; renamed onto ``path``
    (mode 0644) when the block ends, removed if it raises. Two writers never share it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    """``path`` with ``text``, whole or not at all (written aside, then renamed)."""
    with file_written_aside(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
