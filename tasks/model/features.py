"""Feature preparation: the one encoding of a snapshot's columns for XGBoost.

A categorical column's code is its index in the vocabulary ETL computed from the train
split (most frequent first, ``cleaning.max_categories`` at most). The vocabulary travels
with the snapshot (its manifest) and with every exported model (``features.json``), so
tuning, export, champion scoring and scoring new data give a category the same code. A
value outside the vocabulary (unseen in training, or too rare to be kept) is missing,
exactly like a null: never an error, never another category. XGBoost gets the codes as
numbers with ``feature_types`` ``c``, so its own re-coding of category names is never used.
Infinite numbers are missing too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import SnapshotCorrupt

if TYPE_CHECKING:
    from tasks.core import PipelineSpec, SnapshotManifest

CATEGORICAL = "categorical"
NUMERIC = "numeric"


@dataclass(frozen=True)
class FeaturePlan:
    """The model's features in order, the categorical ones' vocabularies, derived features."""

    features: tuple[str, ...]
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    derived: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, manifest: SnapshotManifest, spec: PipelineSpec) -> FeaturePlan:
        """The plan of a published snapshot; its manifest must know each categorical column."""
        features = tuple(manifest.features or spec.model_features)
        vocabularies = manifest.categories
        missing = [c for c in spec.data_schema.categorical_features if c not in vocabularies]
        if missing:
            raise SnapshotCorrupt(
                f"snapshot of {spec.name} ds={manifest.ds} has no vocabulary for the "
                f"categorical column(s) {missing}; re-run etl, validate and materialize"
            )
        return cls(
            features,
            {name: tuple(entry["values"]) for name, entry in vocabularies.items()},
            dict(spec.derived_features),
        )

    def without(self, name: str) -> FeaturePlan:
        """The plan less feature ``name`` (a segment's model drops its constant column)."""
        if name not in self.features:
            return self
        return FeaturePlan(
            tuple(f for f in self.features if f != name),
            {k: v for k, v in self.categories.items() if k != name},
            dict(self.derived),
        )

    @property
    def kinds(self) -> dict[str, str]:
        return {name: CATEGORICAL if name in self.categories else NUMERIC for name in self.features}

    @property
    def feature_types(self) -> list[str]:
        """XGBoost's feature types: ``c`` for a categorical code, ``q`` for a number."""
        return ["c" if name in self.categories else "q" for name in self.features]

    def encode(self, frame: Any) -> Any:
        """``frame``'s features as float32 columns in the model's order (pandas or cudf)."""
        columns = {}
        for name in self.features:
            if name not in frame.columns:
                raise KeyError(f"feature column {name!r} is missing from the data to encode")
            values = frame[name]
            if name in self.categories:
                columns[name] = category_codes(values, self.categories[name])
            else:
                numbers = values.astype("float32")
                columns[name] = numbers.where(numbers.abs() != float("inf"))
        return type(frame)(columns)

    def encode_record_batch(self, batch: Any) -> Any:
        """A pyarrow ``RecordBatch``'s features as one float32 numpy array (rows x features,
        the model's order), the same codes and numbers as :meth:`encode` gives its pandas
        frame. Number columns go from Arrow to the array without a pandas copy of the batch,
        which is most of a batch's memory on a wide table."""
        import numpy as np

        out = np.empty((batch.num_rows, len(self.features)), dtype=np.float32)
        names = batch.schema.names
        for j, name in enumerate(self.features):
            if name not in names:
                raise KeyError(f"feature column {name!r} is missing from the data to encode")
            column = batch.column(name)
            if name in self.categories:
                out[:, j] = category_codes(column.to_pandas(), self.categories[name]).to_numpy()
            else:
                out[:, j] = arrow_float32(column)
        out[np.isinf(out)] = np.nan
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": [
                {
                    "name": name,
                    "kind": kind,
                    **({"categories": list(self.categories[name])} if kind == CATEGORICAL else {}),
                }
                for name, kind in self.kinds.items()
            ],
            "derived_features": self.derived,
            "unseen_category": "missing",
        }

    def summary(self) -> list[dict[str, Any]]:
        """For the model card: each feature's kind, and a categorical one's vocabulary size."""
        return [
            {"name": name, "kind": kind}
            | ({"categories": len(self.categories[name])} if kind == CATEGORICAL else {})
            for name, kind in self.kinds.items()
        ]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeaturePlan:
        features = data["features"]
        return cls(
            tuple(f["name"] for f in features),
            {f["name"]: tuple(f["categories"]) for f in features if f["kind"] == CATEGORICAL},
            dict(data.get("derived_features") or {}),
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=2))

    @classmethod
    def read(cls, path: Path) -> FeaturePlan:
        return cls.from_dict(json.loads(path.read_text()))


def arrow_float32(column: Any) -> Any:
    """A pyarrow array as float32 numpy, a null as NaN, without a pandas copy when it is
    numbers; other types (booleans, decimals) go through pandas, as :meth:`encode` does."""
    import numpy as np
    import pyarrow as pa

    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        return column.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    import pandas as pd

    return pd.Series(column.to_pandas()).astype("float32").to_numpy()


def as_category_text(values: Any) -> Any:
    """Values as the text Spark gives them (``cast(string)``): ``7``, never ``7.0``.

    An integer column with nulls arrives from Parquet as floats; it is made whole first.
    """
    kind = str(values.dtype)
    if kind.startswith("float"):
        values = values.astype("Int64")
    elif kind in ("bool", "boolean"):
        values = values.astype("string").str.lower()
    return values.astype("string")


def category_codes(values: Any, vocabulary: tuple[str, ...]) -> Any:
    """Codes of ``values`` in ``vocabulary`` as float32; NaN for null or an unknown value."""
    text = as_category_text(values)
    if type(values).__module__.startswith("cudf"):
        from cudf import CategoricalDtype
    else:
        from pandas import CategoricalDtype
    codes = text.astype(CategoricalDtype(categories=list(vocabulary))).cat.codes.astype("float32")
    return codes.where(codes >= 0)
