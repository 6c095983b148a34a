"""Data drift: a small profile of each snapshot, kept in its manifest and copied into the
model card, and today's snapshot scored against the champion's profile, feature by feature.

A numeric column is profiled by its deciles (the bins) and the rows in each; a
categorical one (and a classification target) by its most frequent values and the rest;
both count their nulls, a bin of their own. The score of a feature is the population
stability index (PSI) of today's rows over the champion's bins, less the PSI two samples
of these sizes drawn from one distribution show on average, (bins - 1) * (1/n + 1/m):
so the same thresholds hold for a day of a few hundred rows and for millions.
"""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import (
    CARD_FILE,
    SPLITS,
    ChampionPointer,
    ColumnDrift,
    DriftReference,
    DriftReport,
    DriftSummary,
    ModelCard,
    MovedBin,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from tasks.core import Layout, PipelineSpec

PROFILE_FORMAT = 1
QUANTILES = 10  # deciles: at most 10 bins per numeric column, plus the nulls
TOP_CATEGORIES = 20
EPSILON = 1e-4  # a bin empty on one side still counts, as this share
LEVELS = ("ok", "warn", "error")
REPORTED = 10  # features kept in the card and the report, by score


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=float)


def _texts(column: pa.ChunkedArray) -> dict[str | None, int]:
    import pyarrow as pa
    import pyarrow.compute as pc

    counts = pc.value_counts(pc.cast(column, pa.string()))
    return {
        entry["values"].as_py(): entry["counts"].as_py()
        for entry in counts  # None: the nulls
    }


def numeric_profile(column: pa.ChunkedArray) -> dict[str, Any]:
    import numpy as np

    values = _numbers(column)
    finite = values[np.isfinite(values)]
    edges: list[float] = []
    if finite.size:
        inner = np.quantile(finite, np.linspace(0, 1, QUANTILES + 1)[1:-1])
        edges = [float(e) for e in np.unique(inner)]
    return {
        "kind": "numeric",
        "rows": int(values.size),
        "nulls": int(values.size - finite.size),
        "edges": edges,
        "counts": numeric_counts(finite, edges),
        "mean": float(finite.mean()) if finite.size else None,
        "min": float(finite.min()) if finite.size else None,
        "max": float(finite.max()) if finite.size else None,
    }


def numeric_counts(finite: np.ndarray, edges: list[float]) -> list[int]:
    """Rows per bin: below the first edge, between each two, from the last one up."""
    import numpy as np

    bins = np.searchsorted(np.asarray(edges, dtype=float), finite, side="right")
    return [int(n) for n in np.bincount(bins, minlength=len(edges) + 1)]


def categorical_profile(column: pa.ChunkedArray) -> dict[str, Any]:
    counts = _texts(column)
    nulls = counts.pop(None, 0)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    top = dict(ranked[:TOP_CATEGORIES])
    return {
        "kind": "categorical",
        "rows": int(sum(counts.values()) + nulls),
        "nulls": int(nulls),
        "counts": {str(k): int(v) for k, v in top.items()},
        "other": int(sum(v for _, v in ranked[TOP_CATEGORIES:])),
    }


def profiled_columns(spec: PipelineSpec) -> dict[str, str]:
    """Each profiled column and its kind: the model's features, then the target."""
    categorical = set(spec.data_schema.categorical_features)
    kinds = {
        name: "categorical" if name in categorical else "numeric" for name in spec.model_features
    }
    kinds[spec.data_schema.target] = "numeric" if spec.task == "regression" else "categorical"
    return kinds


def read_columns(snapshot: Path, names: list[str]) -> pa.Table:
    """The snapshot's rows of both splits, only ``names`` (those it has)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for split in SPLITS:
        dataset = pq.ParquetDataset(snapshot / split)
        present = [name for name in names if name in dataset.schema.names]
        tables.append(dataset.read(columns=present))
    return pa.concat_tables(tables, promote_options="permissive")


def snapshot_profile(spec: PipelineSpec, snapshot: Path) -> dict[str, Any]:
    """The profile of the snapshot at ``snapshot`` (both splits), for its manifest."""
    kinds = profiled_columns(spec)
    table = read_columns(snapshot, list(kinds))
    columns: dict[str, Any] = {}
    for name, kind in kinds.items():
        if name not in table.column_names:
            continue
        column = table.column(name)
        columns[name] = (
            numeric_profile(column) if kind == "numeric" else categorical_profile(column)
        )
    return {
        "format": PROFILE_FORMAT,
        "rows": table.num_rows,
        "target": spec.data_schema.target,
        "columns": columns,
    }


def psi(expected: list[int], actual: list[int]) -> tuple[float, int]:
    """The population stability index of ``actual`` against ``expected`` (counts per bin),
    and the number of bins either side has rows in."""
    total_e, total_a = sum(expected), sum(actual)
    if not total_e or not total_a:
        return 0.0, 0
    value, used = 0.0, 0
    for e, a in zip(expected, actual, strict=True):
        if not e and not a:
            continue
        used += 1
        p, q = max(e / total_e, EPSILON), max(a / total_a, EPSILON)
        value += (q - p) * math.log(q / p)
    return value, used


def reference_bins(profile: dict[str, Any]) -> tuple[list[str], list[int]]:
    """The reference's bins (names and counts), the null bin last."""
    if profile["kind"] == "numeric":
        edges = profile["edges"]
        bounds = ["-inf", *(f"{e:.6g}" for e in edges), "inf"]
        names = [f"[{low}, {high})" for low, high in pairwise(bounds)]
        return [*names, "null"], [*profile["counts"], profile["nulls"]]
    names = list(profile["counts"])
    return (
        [*names, "other", "null"],
        [*profile["counts"].values(), profile["other"], profile["nulls"]],
    )


def current_counts(profile: dict[str, Any], column: pa.ChunkedArray) -> list[int]:
    """Today's rows over the reference's bins, in ``reference_bins``' order."""
    import numpy as np

    if profile["kind"] == "numeric":
        values = _numbers(column)
        finite = values[np.isfinite(values)]
        return [*numeric_counts(finite, profile["edges"]), int(values.size - finite.size)]
    counts = _texts(column)
    nulls = counts.pop(None, 0)
    top = [int(counts.get(name, 0)) for name in profile["counts"]]
    return [*top, int(sum(counts.values()) - sum(top)), int(nulls)]


def score_column(
    name: str, profile: dict[str, Any], column: pa.ChunkedArray, spec: PipelineSpec
) -> ColumnDrift:
    bins, expected = reference_bins(profile)
    actual = current_counts(profile, column)
    value, used = psi(expected, actual)
    n, m = sum(expected), sum(actual)
    noise = (used - 1) * (1 / n + 1 / m) if used > 1 and n and m else 0.0
    score = max(0.0, value - noise)
    shares = [
        (bins[i], expected[i] / n if n else 0.0, actual[i] / m if m else 0.0)
        for i in range(len(bins))
    ]
    moved = max(shares, key=lambda s: abs(s[2] - s[1]))
    return ColumnDrift(
        kind=profile["kind"],
        role="target" if name == spec.data_schema.target else "feature",
        score=round(score, 6),
        psi=round(value, 6),
        noise=round(noise, 6),
        level=level_of(score, spec),
        rows=[n, m],
        null_share=[round(shares[-1][1], 6), round(shares[-1][2], 6)],
        most_moved_bin=MovedBin(
            bin=moved[0], reference=round(moved[1], 6), today=round(moved[2], 6)
        ),
        mean=means(profile, column) if profile["kind"] == "numeric" else None,
    )


def means(profile: dict[str, Any], column: pa.ChunkedArray) -> list[float | None]:
    """A numeric column's mean in the reference and today."""
    import numpy as np

    values = _numbers(column)
    finite = values[np.isfinite(values)]
    return [profile["mean"], float(finite.mean()) if finite.size else None]


def level_of(score: float, spec: PipelineSpec) -> str:
    drift = spec.drift
    if drift.error is not None and score >= drift.error:
        return "error"
    if drift.warn is not None and score >= drift.warn:
        return "warn"
    return "ok"


def champion_reference(layout: Layout) -> tuple[dict[str, Any] | None, DriftReference]:
    """The champion's snapshot profile (from its own copy of its card) and where it came
    from; None with the reason when there is none to compare with."""
    pointer_file = layout.whole.champion_file
    if not pointer_file.is_file():
        return None, DriftReference(reason="no champion yet")
    pointer = ChampionPointer.read(pointer_file)
    card_file = Path(pointer.model).with_name(CARD_FILE)
    where = DriftReference(ds=pointer.ds, card=str(card_file))
    if not card_file.is_file():
        reason = f"the champion's card {card_file} is missing"
        return None, where.model_copy(update={"reason": reason})
    profile = ModelCard.read(card_file).data.profile
    if not isinstance(profile, dict) or profile.get("format") != PROFILE_FORMAT:
        return None, where.model_copy(update={"reason": "the champion's card has no data profile"})
    return profile, where


def compare_to_champion(spec: PipelineSpec, layout: Layout, snapshot: Path) -> DriftReport:
    """Today's snapshot at ``snapshot`` scored against the champion's profile."""
    reference, where = champion_reference(layout)
    thresholds = {"warn": spec.drift.warn, "error": spec.drift.error}
    if reference is None:
        return DriftReport(level="none", reference=where, thresholds=thresholds)
    names = [n for n in reference["columns"] if n not in spec.drift.ignore]
    table = read_columns(snapshot, names)
    columns = {
        name: score_column(name, reference["columns"][name], table.column(name), spec)
        for name in names
        if name in table.column_names
    }
    ranked = sorted(columns, key=lambda n: -columns[n].score)
    by_level = {level: [n for n in ranked if columns[n].level == level] for level in LEVELS}
    level = "error" if by_level["error"] else "warn" if by_level["warn"] else "ok"
    return DriftReport(
        level=level,
        reference=where,
        thresholds=thresholds,
        ignored=list(spec.drift.ignore),
        errors=by_level["error"],
        warned=by_level["warn"],
        accepted=level == "error" and spec.drift.accept,
        ranked=ranked,
        columns=columns,
    )


def drift_summary(drift: DriftReport) -> DriftSummary:
    """What the model card keeps: the level, the features named, the top columns."""
    return DriftSummary(
        level=drift.level,
        reference_ds=drift.reference.ds,
        reason=drift.reference.reason,
        errors=drift.errors,
        warned=drift.warned,
        accepted=drift.accepted,
        top={name: drift.columns[name] for name in drift.ranked[:REPORTED]},
    )


def drift_message(spec: PipelineSpec, layout: Layout, drift: DriftReport) -> str:
    columns = drift.columns
    named = ", ".join(
        f"{name} (score {columns[name].score:.3g}, PSI {columns[name].psi:.3g})"
        for name in drift.errors
    )
    return (
        f"{spec.name} ds={layout.ds}: the snapshot drifted from the champion's "
        f"(ds={drift.reference.ds}) past drift.error = {spec.drift.error:g}: {named}; "
        f"nothing was published (see {layout.drift_file}). If the change is real, run again "
        "with the run parameter accept_drift, or add the feature to drift.ignore"
    )
