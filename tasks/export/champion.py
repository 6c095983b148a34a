"""Champion/challenger: the pipeline's deployed model, replaced only by a better one.

``models/<pipeline>/champion.json`` points at a copy of the champion's files under
``models/<pipeline>/champions/`` (so a rerun of the champion's ds cannot change it);
the pointer is replaced atomically, after the copy is complete.
"""

from __future__ import annotations

import fcntl
import math
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.core import FEATURES_FILE, ChampionPointer, Decision, replace_dir

if TYPE_CHECKING:
    from tasks.core import Layout, ModelCard, PipelineSpec
    from tasks.model import Snapshot


@contextmanager
def champion_lock(layout: Layout) -> Iterator[None]:
    """One export of a pipeline at a time between reading the champion and replacing it.

    Backfills run exports side by side; without it two challengers could each beat the
    same old champion and the slower one would win, whatever its score.
    """
    lock = layout.champion_lock_file
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_champion(layout: Layout) -> ChampionPointer | None:
    path = layout.champion_file
    if not path.is_file():
        return None
    return ChampionPointer.read(path)


def score_champion(
    champion: ChampionPointer, spec: PipelineSpec, snapshot: Snapshot
) -> tuple[float | None, str]:
    """The champion's metric on the new valid split, or None and why it cannot be scored."""
    import xgboost as xgb

    from tasks.model import FeaturePlan, predict_valid, score, to_numpy

    model = Path(champion.model)
    if not model.is_file():
        return None, f"the champion's model {model} is missing"
    booster = xgb.Booster(model_file=str(model))
    plan_file = model.with_name(FEATURES_FILE)
    # A champion from before feature plans was trained on numbers only.
    plan = (
        FeaturePlan.read(plan_file)
        if plan_file.is_file()
        else FeaturePlan(tuple(booster.feature_names or ()))
    )
    kinds = snapshot.plan.kinds
    if list(booster.feature_names or []) != list(plan.features) or any(
        kinds.get(name) != kind for name, kind in plan.kinds.items()
    ):
        return None, "the champion was trained on other features"
    # Its own vocabularies: a category keeps the code the champion learned it by.
    pred = predict_valid(booster, snapshot, champion.num_boost_round, plan)
    value = score(spec.metric, to_numpy(snapshot.y_valid), pred)
    if math.isnan(value):
        return None, f"the champion's {spec.metric} on the new data is NaN"
    return value, ""


def decide(
    spec: PipelineSpec,
    challenger: float,
    champion: ChampionPointer | None,
    snapshot: Snapshot,
    run_id: str | None = None,
) -> Decision:
    """Whether the challenger replaces the champion, and why. An export that runs again in
    the run that promoted the champion keeps it promoted: compared with itself it would
    otherwise "not beat the champion" and alert for its own model."""
    minimum = spec.export.min_improvement

    def decision(promoted: bool, reason: str, value: float | None = None) -> Decision:
        return Decision(
            promoted=promoted,
            reason=reason,
            challenger_value=challenger,
            champion_value=value,
            champion_ds=champion.ds if champion else None,
            min_improvement=minimum,
        )

    if champion is None:
        return decision(True, "no champion yet")
    if run_id is not None and champion.run_id == run_id:
        reason = f"the champion is this run's model ({run_id}); its export ran again"
        return decision(True, reason).model_copy(update={"already_champion": True})
    value, why_not = score_champion(champion, spec, snapshot)
    if value is None:
        return decision(True, f"{why_not}: the new model replaces it")
    gain = value - challenger if spec.study_direction == "minimize" else challenger - value
    name = spec.metric
    if gain > 0 and gain >= minimum:
        return decision(True, f"{name} {challenger:.6g} beats the champion's {value:.6g}", value)
    if gain <= 0:
        reason = f"{name} {challenger:.6g} does not beat the champion's {value:.6g}"
    else:
        reason = (
            f"{name} {challenger:.6g} beats the champion's {value:.6g} by {gain:.6g}, "
            f"less than export.min_improvement = {minimum:g}"
        )
    return decision(False, reason, value)


def promote(layout: Layout, card: ModelCard) -> ChampionPointer:
    """Copy the day's model, card and feature plan beside the pointer, then switch
    ``champion.json`` to them at once."""
    files = [layout.model_file, layout.card_file, layout.features_file]
    home = layout.champions_dir / f"ds={layout.ds}.{uuid.uuid4().hex[:8]}"
    with replace_dir(home) as tmp:
        for path in files:
            shutil.copy2(path, tmp / path.name)
    pointer = ChampionPointer(
        ds=layout.ds,
        run_id=card.run_id,
        metric=card.metric.name,
        value=card.metric.value,
        num_boost_round=card.num_boost_round,
        model=str(home / files[0].name),
        files=[str(home / p.name) for p in files],
        promoted_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    pointer.write(layout.champion_file)
    return pointer
