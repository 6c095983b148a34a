"""The content hash of a published snapshot: written by materialize, checked by readers."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tasks.layout import SPLITS


def data_files(root: Path) -> list[Path]:
    """Part files of the split folders below ``root``, in a stable order (markers left out)."""
    return sorted(
        p
        for split in SPLITS
        for p in (root / split).rglob("*")
        if p.is_file() and not p.name.startswith((".", "_"))
    )


def content_hash(root: Path) -> str:
    """sha256 over every data file's path (relative to ``root``) and bytes.

    The same for a staging folder and the snapshot published from it, so materialize can
    check that it publishes exactly what validation passed.
    """
    digest = hashlib.sha256()
    for path in data_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
