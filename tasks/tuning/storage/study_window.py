"""The study as a sampler sees it: one read of the study per trial, and a bounded history.

Optuna's samplers read the whole study several times per trial (TPE: the search-space
groups, once per group, again for the constant liar's running trials), and model every
finished trial: at 5,000 trials that is most of a trial's bookkeeping (measured in
``bench/study_scale.py``). :class:`StudyWindow` answers all of a trial's reads from one
read, and shows the sampler at most ``history`` finished trials: the best ones (TPE's
"good" group is the best 25 at most) and the most recent ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING, Any

from optuna.trial import TrialState

from tasks.core import KEEP_BEST_TRIALS

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

_FINISHED = frozenset((TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
_COMPLETE = TrialState.COMPLETE


def window_trials(
    trials: Sequence[FrozenTrial],
    history: int | None,
    maximize: bool,
    keep_best: int = KEEP_BEST_TRIALS,
) -> list[FrozenTrial]:
    """``trials`` with at most ``history`` finished ones: the ``keep_best`` best complete
    trials and the most recent finished ones; unfinished trials all stay. In number order."""
    if history is None:
        return list(trials)
    finished = [t for t in trials if t.state in _FINISHED]
    if len(finished) <= history:
        return list(trials)
    scored = [(t.value, t.number, t) for t in finished if t.state == _COMPLETE]
    pick = heapq.nlargest if maximize else heapq.nsmallest
    best = [t for *_, t in pick(min(keep_best, history), scored, key=lambda s: s[:2])]
    kept = {t.number: t for t in best}
    for trial in reversed(finished):
        if len(kept) >= history:
            break
        kept.setdefault(trial.number, trial)
    kept.update((t.number, t) for t in trials if t.state not in _FINISHED)
    return [kept[number] for number in sorted(kept)]


class StudyWindow:
    """A read-only stand-in for ``study`` whose trial reads all come from ``trials``.

    Everything else (direction, storage, study id) is the study's own. Samplers read
    trials through ``Study._get_trials`` (private in Optuna), so that is answered too.
    """

    def __init__(self, study: optuna.Study, trials: list[FrozenTrial]) -> None:
        self._study = study
        self._trials = trials

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        import copy

        trials = self._trials if states is None else [t for t in self._trials if t.state in states]
        return copy.deepcopy(trials) if deepcopy else list(trials)

    # Private in Optuna: the read its samplers and search spaces use.
    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        return self.get_trials(deepcopy, states)
