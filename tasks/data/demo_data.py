"""Synthetic regression data for the demo: one CSV partition ``ds=YYYY-MM-DD`` a day
(``make demo`` writes three days with :func:`generate`)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tasks.core import replace_dir

N_FEATURES = 20


def make_frame(day: date, rows: int, seed: int, features: int = N_FEATURES) -> Any:
    """``rows`` rows of id, f00..f<features-1>, y; y depends on the first 8 features."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng([seed, day.toordinal()])
    x = rng.normal(size=(rows, features)).astype("float64")
    drift = (day.toordinal() % 7) * 0.05
    y = (
        3.0 * x[:, 0]
        - 2.0 * x[:, 1] * x[:, 2]
        + np.sin(3 * x[:, 3])
        + (1.0 + drift) * np.where(x[:, 4] > 0.5, x[:, 5], -x[:, 6])
        + 0.5 * x[:, 7] ** 2
        + rng.normal(scale=0.3, size=rows)
    )
    frame = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(features)])
    frame.insert(0, "id", np.arange(rows, dtype="int64") + day.toordinal() * 10_000_000)
    frame["y"] = y
    return frame


def write_day(root: Path, day: date, rows: int, seed: int, overwrite: bool = False) -> Path:
    target = root / f"ds={day.isoformat()}"
    if target.exists() and not overwrite:
        return target
    with replace_dir(target) as tmp:
        make_frame(day, rows, seed).to_csv(tmp / "part-00000.csv", index=False, float_format="%.6g")
    return target


def generate(root: Path, end: date, days: int, rows: int, seed: int = 7) -> list[Path]:
    return [
        write_day(root, end - timedelta(days=offset), rows, seed)
        for offset in reversed(range(days))
    ]
