"""Checkpoints of long trials on shared storage: a stale trial's retry resumes from one.

A running trial saves its booster and its validation curve every
``tuning.checkpoint_every_rounds`` rounds or ``tuning.checkpoint_every_minutes`` minutes,
under ``checkpoints/<p>/ds=<ds>/trial-<n>/`` where ``n`` is the number of the first trial
of its retry chain, so every retry finds it. A retry with the same parameters continues
from the saved round: XGBoost goes on from the saved booster, and early stopping from the
saved curve. The folder is removed when the chain ends (complete, pruned, or failed for
good), and the study's whole checkpoint folder when its last worker leaves. Nothing here
is ever published: exports retrain from the snapshot.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import (
    CHECKPOINT_MODEL,
    CHECKPOINT_STATE,
    file_written_aside,
    write_text_atomically,
)
from tasks.model import TrainedSoFar

if TYPE_CHECKING:
    import xgboost as xgb


def chain_start(number: int, system_attrs: dict[str, Any]) -> int:
    """The first trial of a retry chain (Optuna's ``failed_trial`` attr), else ``number``."""
    return int(system_attrs.get("failed_trial", number))


class TrialCheckpoints:
    """The checkpoint folder of one retry chain, and the callback that fills it."""

    def __init__(self, root: Path, chain: int, params: dict[str, Any]) -> None:
        self.folder = Path(root) / f"trial-{chain}"
        self.params = params
        self.saved = 0

    def load(self) -> TrainedSoFar | None:
        """The last checkpoint, if one was saved for the same parameters; it carries the
        seed it was trained with, which the retry goes on with."""
        import xgboost as xgb

        state_file = self.folder / CHECKPOINT_STATE
        if not state_file.is_file():
            return None
        state = json.loads(state_file.read_text())
        if state.get("params") != self.params:
            return None  # not this chain's (a reused trial number): never resume from it
        booster = xgb.Booster()
        booster.load_model(str(self.folder / state["model"]))
        curve = [float(v) for v in state["curve"]]
        return TrainedSoFar(booster, int(state["rounds"]), curve, int(state["seed"]))

    def save(self, booster: xgb.Booster, curve: list[float], seed: int) -> None:
        """Booster first, then the state that names it: a kill between the two leaves the
        previous checkpoint whole."""
        self.folder.mkdir(parents=True, exist_ok=True)
        rounds = booster.num_boosted_rounds()
        model_name = f"{rounds:07d}-{CHECKPOINT_MODEL}"
        with file_written_aside(self.folder / model_name) as tmp:
            booster.save_model(str(tmp))
        state = {
            "rounds": rounds,
            "curve": curve,
            "params": self.params,
            "seed": seed,
            "model": model_name,
        }
        previous = self._current_model()
        write_text_atomically(self.folder / CHECKPOINT_STATE, json.dumps(state))
        if previous and previous != model_name:
            (self.folder / previous).unlink(missing_ok=True)
        self.saved += 1

    def _current_model(self) -> str | None:
        try:
            return str(json.loads((self.folder / CHECKPOINT_STATE).read_text())["model"])
        except (OSError, ValueError, KeyError):
            return None

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def callback(
        self,
        metric: str,
        prior_curve: list[float],
        seed: int,
        every_rounds: int | None,
        every_minutes: float | None,
    ) -> Any:
        """An XGBoost callback that saves a checkpoint (of a training with ``seed``) every
        ``every_rounds`` rounds or ``every_minutes`` minutes (whichever comes first)."""
        import xgboost as xgb

        checkpoints = self

        class SaveCheckpoints(xgb.callback.TrainingCallback):
            def __init__(self) -> None:
                super().__init__()
                self.last_round = 0
                self.last_time = time.monotonic()

            def before_training(self, model: Any) -> Any:
                self.last_round = model.num_boosted_rounds()
                return model

            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                rounds = model.num_boosted_rounds()
                due = every_rounds is not None and rounds - self.last_round >= every_rounds
                due = due or (
                    every_minutes is not None
                    and time.monotonic() - self.last_time >= every_minutes * 60
                )
                if due:
                    curve = [*prior_curve, *evals_log["valid"][metric]]
                    checkpoints.save(model, [float(v) for v in curve], seed)
                    self.last_round, self.last_time = rounds, time.monotonic()
                return False

        return SaveCheckpoints()
