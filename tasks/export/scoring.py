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
    FEATURES_FILE,
    MODEL_FILE,
    Layout,
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
    card = json.loads((folder / CARD_FILE).read_text())
    booster = xgb.Booster(model_file=str(folder / MODEL_FILE))
    plan = FeaturePlan.read(folder / FEATURES_FILE)
    return ScoringModel(booster, plan, int(card["num_boost_round"]), card["task"], folder)


def champion_folder(storage_root: str | Path, pipeline: str) -> Path:
    """The folder of the pipeline's current champion."""
    pointer = champion_pointer(storage_root, pipeline)
    if not pointer.is_file():
        raise SnapshotMissing(f"pipeline {pipeline} has no champion yet ({pointer} is missing)")
    return Path(json.loads(pointer.read_text())["model"]).parent


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
