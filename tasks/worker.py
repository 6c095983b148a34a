"""An Optuna worker: load the snapshot once, then claim and run trials until none is left."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasks.search_space import suggest
from tasks.study import claim_trial
from tasks.training import base_params, best_rounds, build_matrices, fit, load_snapshot

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

    from tasks.spec import PipelineSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerIdentity:
    map_index: int
    partition: int
    attempt: int
    seed: int
    device: str

    @property
    def label(self) -> str:
        return f"w{self.map_index}.p{self.partition}.a{self.attempt}"


def run_worker(
    storage: BaseStorage,
    name: str,
    spec: PipelineSpec,
    dataset_dir: str,
    identity: WorkerIdentity,
) -> dict[str, Any]:
    """Run trials of study ``name`` until the budget is claimed; return a small summary."""
    import optuna

    snapshot = load_snapshot(dataset_dir, spec)
    matrices = build_matrices(snapshot)
    fixed = base_params(spec, identity.device, identity.seed, snapshot)
    sampler = optuna.samplers.TPESampler(seed=identity.seed, constant_liar=True, multivariate=True)
    study_id = storage.get_study_id_from_name(name)
    done = {"complete": 0, "fail": 0}
    while (trial_id := claim_trial(storage, study_id)) is not None:
        # A fresh Study per trial so the sampler sees every other worker's latest trials.
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
        trial = optuna.Trial(study, trial_id)
        trial.set_user_attr("worker", identity.label)
        trial.set_user_attr("seed", identity.seed)
        trial.set_user_attr("device", identity.device)
        params = suggest(trial, spec.search_space)
        started = time.perf_counter()
        reason = None
        try:
            booster, value = fit(
                {**fixed, **params},
                matrices,
                spec.tuning.num_boost_round,
                spec.tuning.early_stopping_rounds,
            )
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:500]
        trial.set_user_attr("fit_seconds", round(time.perf_counter() - started, 4))
        if reason is None and not math.isfinite(value):
            reason = f"objective returned {value}"
        if reason is not None:
            log.warning("trial %d failed: %s", trial.number, reason)
            trial.set_user_attr("fail_reason", reason)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            done["fail"] += 1
            continue
        trial.set_user_attr("best_rounds", best_rounds(booster, spec.tuning.num_boost_round))
        study.tell(trial, value)
        done["complete"] += 1
    return {"worker": identity.label, "seed": identity.seed, "device": identity.device, **done}
