"""The content hash of a published snapshot: written by materialize, checked by readers."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tasks.layout import MANIFEST


def data_files(root: Path) -> list[Path]:
    """Parquet part files below ``root``, in a stable order (markers and manifest left out)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith((".", "_")) and p.name != MANIFEST
    )


def content_hash(root: Path) -> str:
    """sha256 over every data file's relative path and bytes."""
    digest = hashlib.sha256()
    for path in data_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
