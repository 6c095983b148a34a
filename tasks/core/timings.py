"""Stage timings of a run: each task writes its own entry; the export report reads them all."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tasks.core.atomic import write_text_atomically

if TYPE_CHECKING:
    from pathlib import Path

    from tasks.core.layout import Layout


def record_stage(
    layout: Layout,
    task_id: str,
    map_index: int,
    try_number: int,
    started: datetime,
    finished: datetime,
) -> Path:
    """Write (or replace, on a later try) the entry of one task instance."""
    folder = layout.timings_dir
    folder.mkdir(parents=True, exist_ok=True)
    name = task_id if map_index < 0 else f"{task_id}.{map_index}"
    entry = {
        "task": task_id,
        "map_index": map_index,
        "try_number": try_number,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "seconds": round((finished - started).total_seconds(), 1),
    }
    path = folder / f"{name}.json"
    write_text_atomically(path, json.dumps(entry))
    return path


def read_stages(layout: Layout) -> list[dict[str, Any]]:
    """Every recorded entry of the run, in the order the tasks started."""
    folder = layout.timings_dir
    if not folder.is_dir():
        return []
    entries = [json.loads(path.read_text()) for path in folder.glob("*.json")]
    return sorted(entries, key=lambda e: (e["started"], e["task"], e["map_index"]))
