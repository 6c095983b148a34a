"""Row-sample fidelity: a trial trains on nested row samples of the train split first
(for example 1/9, 1/3, then all rows), each with early stopping, and only the best
``1 / reduction_factor`` of each rung goes on to the next.

The promotion is Optuna's asynchronous successive halving (``SuccessiveHalvingPruner``)
across the shared study: a trial reports its rung's validation metric at the rung's step
(its rows in units of the smallest sample) and is pruned unless it ranks in the top of
every trial that reached that rung so far, so no worker waits for a rung to fill. The
samples are fixed per snapshot (:func:`tasks.model.loading.row_uniforms`), so every
worker ranks trials on the same rows; each worker builds their matrices once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from tasks.core import FidelitySpec
    from tasks.model import Matrices


def rung_pruner(fidelity: FidelitySpec, fractions: tuple[float, ...]) -> optuna.pruners.BasePruner:
    """The pruner of a study whose trials report at the rungs of ``fractions`` (the row
    samples below all rows, smallest first); none when there is no rung to prune at."""
    import optuna

    if not fractions:
        return optuna.pruners.NopPruner()
    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=fidelity.step(fractions[0]),
        reduction_factor=fidelity.reduction_factor,
        min_early_stopping_rate=0,
        bootstrap_count=0,
    )


def run_rungs(
    trial: optuna.Trial,
    fidelity: FidelitySpec,
    matrices: Matrices,
    fit_rung: Callable[[Matrices], float],
    rungs: list[dict[str, Any]],
) -> None:
    """Train ``trial`` on each row sample of ``matrices``, smallest first, reporting each
    rung's value; raises ``optuna.TrialPruned`` when the pruner stops it at a rung. Each
    rung trained is added to ``rungs`` (for the trial's record), the last one included."""
    import optuna

    for fraction in sorted(matrices.samples):
        sample = matrices.sample(fraction)
        started = time.perf_counter()
        value = fit_rung(sample)
        rungs.append(
            {
                "fraction": round(fraction, 6),
                "rows": sample.rows["train"],
                "value": value,
                "fit_seconds": round(time.perf_counter() - started, 4),
            }
        )
        if not math.isfinite(value):
            raise ValueError(f"objective returned {value} on the {fraction:.4g} row sample")
        trial.report(value, fidelity.step(fraction))
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned on the {fraction:.4g} row sample")
