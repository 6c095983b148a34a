"""One Optuna study per (pipeline, ds), with a global trial budget held in the storage.

The budget is enqueued up front as WAITING trials. Workers claim one at a time with
the storage's atomic WAITING -> RUNNING transition (a row lock in MySQL, the journal's
file lock otherwise), so any number of workers finish exactly the budget, never more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage

BUDGET_ATTR = "retune_budget"


def study_name(pipeline: str, ds: str) -> str:
    return f"retune.{pipeline}.{ds}"


def create_study(
    storage: BaseStorage, name: str, direction: Literal["minimize", "maximize"], n_trials: int
) -> dict[str, Any]:
    """Create the study or load it, and top its trials up to ``n_trials``.

    Idempotent: a rerun with the same budget adds nothing; a larger budget adds the
    difference; a smaller one never removes trials.
    """
    import optuna

    study = optuna.create_study(
        study_name=name, storage=storage, direction=direction, load_if_exists=True
    )
    if study.direction.name.lower() != direction:
        raise ValueError(
            f"study {name} exists with direction {study.direction.name.lower()}, "
            f"the spec asks for {direction}"
        )
    existing = len(study.get_trials(deepcopy=False))
    for _ in range(max(0, n_trials - existing)):
        study.enqueue_trial({}, skip_if_exists=False)
    budget = max(n_trials, int(study.user_attrs.get(BUDGET_ATTR, 0)))
    study.set_user_attr(BUDGET_ATTR, budget)
    return {"study_name": name, "budget": budget, "enqueued": max(0, n_trials - existing)}


def claim_trial(storage: BaseStorage, study_id: int) -> int | None:
    """Atomically move one WAITING trial to RUNNING; ``None`` when the budget is used up."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
                return trial._trial_id
        except UpdateFinishedTrialError:
            continue
    return None


def trial_counts(study: optuna.Study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    return counts


def study_summary(study: optuna.Study) -> dict[str, Any]:
    from optuna.trial import TrialState

    counts = trial_counts(study)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return {
        "study_name": study.study_name,
        "trials": counts,
        "finished": sum(n for s, n in counts.items() if s in ("complete", "pruned", "fail")),
        "best_value": study.best_value if complete else None,
    }
