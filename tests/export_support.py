"""A tuned study on a published snapshot, and a champion to beat, for export tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xgboost as xgb

from tasks.core import (
    MODEL_FILE,
    CardData,
    ChampionPointer,
    ColumnDrift,
    DriftSummary,
    Layout,
    MetricValue,
    ModelCard,
    MovedBin,
    Seeds,
    StudyRef,
    journal_path,
    parse_spec,
)
from tasks.model import load_snapshot
from tasks.tuning import WorkerIdentity, create_study, run_worker, study_name
from tasks.tuning.storage import journal_url, open_storage
from tests.conftest import demo_spec_data
from tests.snapshots import published

DS = "2026-11-21"


def tuned(
    tmp_path: Path, ds: str = DS, drift: dict[str, Any] | None = None, **export_rule: Any
) -> tuple[Any, Layout, Any]:
    data = {**demo_spec_data(n_trials=3), "export": export_rule}
    spec = parse_spec({**data, "drift": drift} if drift is not None else data)
    layout = published(tmp_path, spec, ds, rows=2000)
    storage = open_storage(journal_url(journal_path(tmp_path)))
    create_study(storage, spec, ds)
    identity = WorkerIdentity(0, 0, 1, 11, "cpu")
    run_worker(storage, {study_name(spec.name, ds): None}, spec, str(layout.dataset_dir), identity)
    return spec, layout, storage


def champion_model(layout: Layout, spec: Any, rounds: int, tmp_path: Path) -> None:
    """Make a model of ``rounds`` rounds on the snapshot the champion of the pipeline."""
    snapshot = load_snapshot(layout.dataset_dir, spec)
    train = xgb.DMatrix(*snapshot.read_split("train"), feature_names=snapshot.features)
    booster = xgb.train({"max_depth": 4, "eta": 0.3, "nthread": 1}, train, rounds)
    folder = tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    booster.save_model(str(folder / MODEL_FILE))
    point_champion_at(Layout(layout.root, layout.pipeline, "2026-11-01"), folder, rounds)


def point_champion_at(
    layout: Layout, folder: Path, rounds: int, run_id: str | None = None
) -> ChampionPointer:
    """Make the model in ``folder`` the pipeline's champion, as of ``layout``'s ds."""
    pointer = ChampionPointer(
        ds=layout.ds,
        run_id=run_id,
        metric="rmse",
        num_boost_round=rounds,
        model=str(folder / MODEL_FILE),
        files=[str(folder / MODEL_FILE)],
    )
    pointer.write(layout.champion_file)
    return pointer


def a_card(pipeline: str, ds: str, **fields: Any) -> ModelCard:
    """A model card with every field a real one has, ``fields`` replacing them."""
    card = ModelCard(
        pipeline=pipeline,
        ds=ds,
        task="regression",
        run_id=f"scheduled__{ds}",
        spec_sha256="0" * 64,
        study=StudyRef(name=f"{pipeline}.{ds}", storage="journal", trial_number=2),
        tuned_value=0.5,
        trials={"complete": 3, "pruned": 0, "failed": 0, "retried": 0},
        metric=MetricValue(name="rmse", value=0.5),
        metrics={"rmse": 0.5},
        params={"max_depth": 4},
        xgboost_params={"max_depth": 4, "objective": "reg:squarederror"},
        num_boost_round=20,
        seeds=Seeds(base=7, trial=11, worker="tune[0]"),
        device="cpu",
        memory={"matrix": "in_memory"},
        data=CardData(content_hash="a" * 64, rows={"train": 800, "valid": 200}),
        created_at="2026-11-21T06:00:00+00:00",
    )
    return card.model_copy(update=fields)


def a_drift_summary(level: str, **scores: float) -> DriftSummary:
    """A card's drift summary whose top features (numeric, in this order) scored ``scores``."""
    top = {
        name: ColumnDrift(
            kind="numeric",
            role="feature",
            score=score,
            psi=score,
            noise=0.0,
            level=level,
            rows=[1000, 1000],
            null_share=[0.0, 0.0],
            most_moved_bin=MovedBin(bin="[-inf, 0)", reference=0.1, today=0.1 + score),
        )
        for name, score in scores.items()
    }
    return DriftSummary(level=level, top=top)
