"""The content hash of a published snapshot: written by materialize, checked by readers."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.core.layout import SEGMENT_COLUMN, SPLITS

if TYPE_CHECKING:
    from collections.abc import Iterator

PARQUET_MAGIC = b"PAR1"
BLOCK = 1 << 20


def data_files(root: Path, segment: str | None = None) -> list[Path]:
    """Part files of the split folders below ``root`` (of one segment's folders when
    ``segment`` is given), in a stable order (markers left out)."""
    folders = [root / split for split in SPLITS]
    if segment is not None:
        folders = [folder / f"{SEGMENT_COLUMN}={segment}" for folder in folders]
    return sorted(
        p
        for folder in folders
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith((".", "_"))
    )


def _read(path: Path, end: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        left = end
        while left > 0:
            block = handle.read(min(BLOCK, left))
            if not block:
                return
            left -= len(block)
            yield block


def hashed_parts(path: Path) -> Iterator[bytes]:
    """What identifies a file's content: its bytes, but for Parquet not its footer as written.

    parquet-mr writes each column's encodings from a hash set, in an order that changes
    from one JVM to the next; so the same rows written twice differ in the footer only.
    The pages are hashed as they are, and of the footer what it says: rows and schema.
    """
    size = path.stat().st_size
    if path.suffix == ".parquet" and size >= 12:
        with path.open("rb") as handle:
            handle.seek(size - 8)
            tail = handle.read(8)
        footer = int.from_bytes(tail[:4], "little")
        if tail[4:] == PARQUET_MAGIC and footer <= size - 12:
            import pyarrow.parquet as pq

            yield from _read(path, size - 8 - footer)
            meta = pq.ParquetFile(path).metadata
            yield f"rows={meta.num_rows};schema={meta.schema.to_arrow_schema()}".encode()
            return
    yield from _read(path, size)


def content_hash(root: Path, segment: str | None = None) -> str:
    """sha256 over every data file's path (relative to ``root``) and content.

    The same for a staging folder and the snapshot published from it, so materialize can
    check that it publishes exactly what validation passed, and the same again when a
    rerun writes the same rows. With ``segment``: over that segment's files only.
    """
    digest = hashlib.sha256()
    for path in data_files(root, segment):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        for part in hashed_parts(path):
            digest.update(part)
    return digest.hexdigest()
