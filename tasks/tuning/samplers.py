"""Sampler and pruner from the spec, with every setting chosen explicitly.

Optuna's defaults moved between releases (TPE's multivariate and constant liar, the
startup trials), so Retune never relies on them: a study tuned today behaves the same
after an Optuna upgrade.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import optuna

from tasks.core import SpecError
from tasks.tuning.storage import StudyWindow, window_trials

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial, TrialState

    from tasks.core import PrunerSpec, SamplerSpec, TuningSpec


def startup_trials(n_trials: int, parallelism: int) -> int:
    """Random trials before the model takes over.

    A quarter of the budget, between 3 and 10, but at least one per parallel worker so
    that every worker's first trial explores; never more than the budget.
    """
    return min(n_trials, max(parallelism, min(10, max(3, n_trials // 4))))


def check_sampler_available(spec: SamplerSpec) -> None:
    """Fail before any worker starts when the chosen sampler cannot be built here."""
    if spec.type == "gp" and importlib.util.find_spec("torch") is None:
        raise SpecError(
            "tuning.sampler.type 'gp' needs PyTorch (Optuna's GPSampler); install it with "
            "pip install 'retune[gp]' or choose 'tpe' or 'random'"
        )


class WindowedSampler(optuna.samplers.BaseSampler):
    """``base``, seeing one read of the study per trial and at most ``history`` finished
    trials (see :mod:`tasks.tuning.storage.study_window`).

    Without it a sampler's cost per trial grows with the study: TPE at 5,000 trials spends
    about 120 ms per trial modelling them (measured in bench/), and reads the study several
    times per trial.
    """

    def __init__(self, base: optuna.samplers.BaseSampler, history: int | None) -> None:
        self.base = base
        self.history = history
        self._key: tuple[int, type] | None = None
        self._window_trials: list[FrozenTrial] = []

    def use_trials(self, study: optuna.Study, number: int, trials: list[FrozenTrial]) -> None:
        """Sample trial ``number`` of ``study`` from ``trials``, a read just made."""
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        self._window_trials = window_trials(trials, self.history, maximize)
        self._key = (number, type(study))

    def _window(self, study: optuna.Study, trial: FrozenTrial) -> StudyWindow:
        # One read per trial and kind of study: a pruner may show the sampler a filtered
        # study (Hyperband's bracket of the trial), which is read on its own.
        if (trial.number, type(study)) != self._key:
            self.use_trials(study, trial.number, study.get_trials(deepcopy=False))
        return StudyWindow(study, self._window_trials)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.base.infer_relative_search_space(self._window(study, trial), trial)  # type: ignore[arg-type]

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        window = self._window(study, trial)
        return self.base.sample_relative(window, trial, search_space)  # type: ignore[arg-type]

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        window = self._window(study, trial)
        return self.base.sample_independent(window, trial, param_name, param_distribution)  # type: ignore[arg-type]

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._key, self._window_trials = None, []
        self.base.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.base.reseed_rng()


def warm_startup_trials(tuning: TuningSpec, warm: int) -> int:
    """Start-up trials of a study whose first ``warm`` trials are yesterday's best: the
    model starts once those and one random trial per parallel worker have finished, not
    after a whole cold start-up phase (never more than the cold one)."""
    cold = (
        tuning.sampler.n_startup_trials
        if tuning.sampler.n_startup_trials is not None
        else startup_trials(tuning.n_trials, tuning.parallelism)
    )
    return min(cold, warm + tuning.parallelism)


def build_sampler(
    tuning: TuningSpec, seed: int, n_startup: int | None = None
) -> optuna.samplers.BaseSampler:
    """The spec's sampler; ``n_startup`` overrides its start-up trials (a warm study's)."""
    spec = tuning.sampler
    if spec.type == "random":  # reads no trial
        return optuna.samplers.RandomSampler(seed=seed)
    return WindowedSampler(model_sampler(tuning, seed, n_startup), spec.history)


def model_sampler(
    tuning: TuningSpec, seed: int, n_startup: int | None = None
) -> optuna.samplers.BaseSampler:
    """The spec's model-based sampler (TPE or GP), before the window."""
    import warnings

    from optuna.exceptions import ExperimentalWarning

    spec = tuning.sampler
    check_sampler_available(spec)
    if n_startup is None:
        n_startup = (
            spec.n_startup_trials
            if spec.n_startup_trials is not None
            else startup_trials(tuning.n_trials, tuning.parallelism)
        )
    if spec.type == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup)
    warnings.filterwarnings("ignore", message=".*``group``.*", category=ExperimentalWarning)
    return optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=n_startup,
        multivariate=spec.multivariate,
        group=spec.multivariate,
        constant_liar=spec.constant_liar,
    )


def pruning_callback(
    trial: optuna.Trial, observation_key: str, spec: PrunerSpec, num_boost_round: int
) -> Any:
    """Optuna's XGBoost pruning callback, reporting every ``report_interval`` rounds.

    Each report and pruning decision costs storage round trips (about 25 ms on MySQL,
    measured in bench/), which would dwarf a boosting round; steps stay round numbers,
    so the pruner's warm-up and resources keep counting rounds.
    """
    from optuna_integration import XGBoostPruningCallback

    every = spec.report_interval(num_boost_round)

    class EveryKRounds(XGBoostPruningCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            # The round of the model, not of this training: a trial resumed from a
            # checkpoint goes on counting where it stopped.
            step = model.num_boosted_rounds() - 1
            if (step + 1) % every:
                return False
            return bool(super().after_iteration(model, step, evals_log))

    return EveryKRounds(trial, observation_key)


def build_pruner(
    spec: PrunerSpec, num_boost_round: int, warm: int = 0
) -> optuna.pruners.BasePruner:
    """The pruner the XGBoost callback reports to; one step is one boosting round.

    ``warm``: the study's first trials that are yesterday's best; the median pruner waits
    for as many of today's own trials besides them (yesterday's best would set the bar
    from the start and prune most new trials: measured in bench/tuning.py)."""
    if spec.type == "none":
        return optuna.pruners.NopPruner()
    if spec.type == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=spec.min_resource, reduction_factor=spec.reduction_factor
        )
    if spec.type == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=spec.min_resource,
            max_resource=num_boost_round,
            reduction_factor=spec.reduction_factor,
        )
    warmup = spec.n_warmup_steps if spec.n_warmup_steps is not None else num_boost_round // 2
    return optuna.pruners.MedianPruner(
        n_startup_trials=spec.n_startup_trials + warm, n_warmup_steps=warmup
    )
