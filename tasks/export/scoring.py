"""Score new rows with an exported model, prepared exactly as in training.

    model = load_model("<storage>/models/<pipeline>/ds=<ds>")   # or the champion's folder
    predictions = score_frame(model, frame)                      # a pandas frame

A model folder holds the booster, its card and ``features.json`` (the feature plan:
order, categorical vocabularies, derived features). Categories are coded by that plan
(an unseen one is missing); derived features are computed with Spark SQL, as ETL did.
:func:`score_partition` does the same for a ds partition on Spark (``tasks/jobs/score_job.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import (
    CARD_FILE,
    CHAMPION_FILE,
    FEATURES_FILE,
    MODEL_FILE,
    SEGMENT_COLUMN,
    SEGMENT_DIR_PREFIX,
    ChampionPointer,
    Layout,
    ModelCard,
    SnapshotMissing,
    champion_pointer,
    replace_dir,
)
from tasks.model import FeaturePlan, predict_encoded

if TYPE_CHECKING:
    import numpy as np
    import xgboost as xgb
    from pyspark.sql import DataFrame, SparkSession

    from tasks.core import PipelineSpec

PREDICTION = "prediction"
# Scored rows of a segmented pipeline: which model scored each (a segment key, or global).
SERVED_BY = "scored_by"
GLOBAL_MODEL = "global"


@dataclass(frozen=True)
class ScoringModel:
    booster: xgb.Booster
    plan: FeaturePlan
    rounds: int
    task: str
    folder: Path


def load_model(folder: str | Path) -> ScoringModel:
    """An exported model folder (``models/<p>/ds=<ds>`` or a champion's copy)."""
    import xgboost as xgb

    folder = Path(folder)
    missing = [n for n in (MODEL_FILE, CARD_FILE, FEATURES_FILE) if not (folder / n).is_file()]
    if missing:
        raise SnapshotMissing(f"{folder} is not a complete model folder: no {missing}")
    card = ModelCard.read(folder / CARD_FILE)
    booster = xgb.Booster(model_file=str(folder / MODEL_FILE))
    plan = FeaturePlan.read(folder / FEATURES_FILE)
    return ScoringModel(booster, plan, card.num_boost_round, card.task, folder)


def champion_folder(storage_root: str | Path, pipeline: str) -> Path:
    """The folder of the pipeline's current champion."""
    pointer = champion_pointer(storage_root, pipeline)
    if not pointer.is_file():
        raise SnapshotMissing(f"pipeline {pipeline} has no champion yet ({pointer} is missing)")
    return Path(ChampionPointer.read(pointer).model).parent


def score_frame(model: ScoringModel, frame: Any) -> np.ndarray:
    """Predictions for a pandas frame of raw rows (the spec's columns; extra ones ignored):
    a value per row, or class probabilities per row for multiclass."""
    missing_derived = [name for name in model.plan.derived if name not in frame.columns]
    if missing_derived:
        frame = with_derived_features(frame, model.plan.derived)
    return predict_encoded(model.booster, model.plan.encode(frame), model.plan, model.rounds)


def with_derived_features(frame: Any, derived: dict[str, str]) -> Any:
    """``frame`` with the derived features computed by ETL's own transform (Spark SQL)."""
    from pyspark.sql import SparkSession

    from tasks.data import add_derived_features

    spark = SparkSession.builder.master("local[1]").appName("retune-score").getOrCreate()
    return add_derived_features(spark.createDataFrame(frame), derived).toPandas()


def score_partition(
    spark: SparkSession, spec: PipelineSpec, ds: str, storage_root: str, model: ScoringModel
) -> dict[str, Any]:
    """Score the raw ``ds`` partition's rows on Spark, unlabelled ones included (rows ETL
    would quarantine are left out); write the key and the prediction as Parquet under
    ``scores/<pipeline>/ds=<ds>/predictions/``, with a ``summary.json``."""
    from tasks.data import usable_rows

    layout = Layout(Path(storage_root), spec.name, ds)
    key = spec.data_schema.key
    rows = usable_rows(spark, spec, ds, storage_root).select(key, *model.plan.features)
    predicted = rows.mapInPandas(predictor(spark, model, key), prediction_schema(rows, key, model))
    with replace_dir(layout.scores_dir) as tmp:
        predicted.write.parquet(str(tmp / layout.scored_rows_dir.name))
        written = spark.read.parquet(str(tmp / layout.scored_rows_dir.name)).count()
        summary = {
            "pipeline": spec.name,
            "ds": ds,
            "model": str(model.folder),
            "rows_scored": written,
            "path": str(layout.scored_rows_dir),
        }
        (tmp / layout.scores_summary_file.name).write_text(json.dumps(summary, indent=2))
    return summary


def prediction_schema(rows: DataFrame, key: str, model: ScoringModel) -> str:
    kind = rows.schema[key].dataType.simpleString()
    column = "array<double>" if model.task == "multiclass" else "double"
    return f"`{key}` {kind}, {PREDICTION} {column}"


def predictor(spark: SparkSession, model: ScoringModel, key: str) -> Any:
    """A ``mapInPandas`` function; the booster travels as bytes, once per task."""
    raw = spark.sparkContext.broadcast(bytes(model.booster.save_raw("ubj")))
    plan, rounds = model.plan, model.rounds

    def predict(batches: Any) -> Any:
        import pandas as pd
        import xgboost as xgb

        booster = xgb.Booster(model_file=bytearray(raw.value))
        for batch in batches:
            values = predict_encoded(booster, plan.encode(batch), plan, rounds)
            column = list(values) if values.ndim > 1 else values.astype("float64")
            yield pd.DataFrame({key: batch[key], PREDICTION: column})

    return predict


def segment_champions(storage_root: str | Path, pipeline: str) -> dict[str, Path]:
    """Each segment's champion folder, for the segments that have one."""
    models = champion_pointer(storage_root, pipeline).parent
    found = {}
    for pointer in sorted(models.glob(f"{SEGMENT_DIR_PREFIX}*/{CHAMPION_FILE}")):
        key = pointer.parent.name.removeprefix(SEGMENT_DIR_PREFIX)
        found[key] = Path(ChampionPointer.read(pointer).model).parent
    return found


@dataclass(frozen=True)
class SegmentRouting:
    """Which model scores a row: its segment's champion, or the global champion."""

    fallback: ScoringModel
    segments: dict[str, ScoringModel]

    def model_for(self, segment: str | None) -> ScoringModel:
        return self.segments.get(segment or "", self.fallback)


def load_routing(storage_root: str | Path, pipeline: str) -> SegmentRouting:
    return SegmentRouting(
        load_model(champion_folder(storage_root, pipeline)),
        {
            key: load_model(folder)
            for key, folder in segment_champions(storage_root, pipeline).items()
        },
    )


def score_segmented_frame(routing: SegmentRouting, frame: Any, segments: Any) -> Any:
    """Predictions for a pandas frame whose rows' segment keys are ``segments``: each row
    by its segment's champion, or the global one. Returns (predictions, served-by)."""
    import numpy as np

    keys = np.asarray(segments, dtype=object)
    predictions: list[Any] = [None] * len(frame)
    served = np.empty(len(frame), dtype=object)
    for key in dict.fromkeys(keys.tolist()):
        rows = np.flatnonzero(keys == key)
        model = routing.model_for(key)
        values = score_frame(model, frame.iloc[rows])
        for position, value in zip(rows, values, strict=True):
            predictions[position] = value
        served[rows] = key if model is not routing.fallback else GLOBAL_MODEL
    return np.asarray(predictions), served


def score_segmented_partition(
    spark: SparkSession, spec: PipelineSpec, ds: str, storage_root: str
) -> dict[str, Any]:
    """Score the raw ``ds`` partition like :func:`score_partition`, each row by its
    segment's champion (a segment without one, or new today, by the global champion);
    the output also says which model scored each row."""
    from tasks.data import add_segment, usable_rows

    routing = load_routing(storage_root, spec.name)
    layout = Layout(Path(storage_root), spec.name, ds)
    key = spec.data_schema.key
    models = [routing.fallback, *routing.segments.values()]
    features = list(dict.fromkeys(f for model in models for f in model.plan.features))
    rows = add_segment(usable_rows(spark, spec, ds, storage_root), spec).select(
        key, SEGMENT_COLUMN, *features
    )
    kind = rows.schema[key].dataType.simpleString()
    column = "array<double>" if routing.fallback.task == "multiclass" else "double"
    schema = f"`{key}` {kind}, {PREDICTION} {column}, {SEGMENT_COLUMN} string, {SERVED_BY} string"
    predicted = rows.mapInPandas(segment_predictor(spark, routing, key), schema)
    with replace_dir(layout.scores_dir) as tmp:
        predicted.write.parquet(str(tmp / layout.scored_rows_dir.name))
        written = spark.read.parquet(str(tmp / layout.scored_rows_dir.name))
        by_model = {
            row[SERVED_BY]: int(row["count"])
            for row in written.groupBy(SERVED_BY).count().collect()
        }
        summary = {
            "pipeline": spec.name,
            "ds": ds,
            "model": str(routing.fallback.folder),
            "segment_models": {k: str(m.folder) for k, m in routing.segments.items()},
            "rows_scored": sum(by_model.values()),
            "rows_by_model": dict(sorted(by_model.items())),
            "path": str(layout.scored_rows_dir),
        }
        (tmp / layout.scores_summary_file.name).write_text(json.dumps(summary, indent=2))
    return summary


def segment_predictor(spark: SparkSession, routing: SegmentRouting, key: str) -> Any:
    """A ``mapInPandas`` function routing each row to its model; boosters travel as bytes."""
    models = {"": routing.fallback, **routing.segments}
    raw = spark.sparkContext.broadcast(
        {k: bytes(m.booster.save_raw("ubj")) for k, m in models.items()}
    )
    shapes = {k: (m.plan, m.rounds, m.task, m.folder) for k, m in models.items()}

    def predict(batches: Any) -> Any:
        import pandas as pd
        import xgboost as xgb

        loaded = {
            k: ScoringModel(xgb.Booster(model_file=bytearray(raw.value[k])), *shapes[k])
            for k in shapes
        }
        here = SegmentRouting(loaded.pop(""), loaded)
        for batch in batches:
            values, served = score_segmented_frame(here, batch, batch[SEGMENT_COLUMN])
            column = list(values) if values.ndim > 1 else values.astype("float64")
            yield pd.DataFrame(
                {
                    key: batch[key],
                    PREDICTION: column,
                    SEGMENT_COLUMN: batch[SEGMENT_COLUMN],
                    SERVED_BY: served,
                }
            )

    return predict
