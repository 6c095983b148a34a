"""A tuned study on a published snapshot, and a champion to beat, for export tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xgboost as xgb

from tasks.core import MODEL_FILE, Layout, journal_path, parse_spec
from tasks.export import promote
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
    run_worker(storage, study_name(spec.name, ds), spec, str(layout.dataset_dir), identity)
    return spec, layout, storage


def champion_model(layout: Layout, spec: Any, rounds: int, tmp_path: Path) -> None:
    """Make a model of ``rounds`` rounds on the snapshot the champion of the pipeline."""
    snapshot = load_snapshot(layout.dataset_dir, spec)
    train = xgb.DMatrix(*snapshot.read_split("train"), feature_names=snapshot.features)
    booster = xgb.train({"max_depth": 4, "eta": 0.3, "nthread": 1}, train, rounds)
    folder = tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    booster.save_model(str(folder / MODEL_FILE))
    champion_layout = Layout(layout.root, layout.pipeline, "2026-11-01")
    promote(champion_layout, [folder / MODEL_FILE], {"metric": "rmse", "num_boost_round": rounds})
