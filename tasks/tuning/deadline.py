"""The study deadline: no new trial after it; running trials stop at the hard limit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tasks.core import RetuneError

if TYPE_CHECKING:
    import optuna

DEADLINE_ATTR = "retune_deadline"
HARD_DEADLINE_ATTR = "retune_hard_deadline"


class DeadlineReached(RetuneError):
    """A trial was still running at the study's hard deadline and was stopped."""


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Deadline:
    """Epoch seconds; ``None`` means no limit."""

    soft: float | None = None
    hard: float | None = None

    @classmethod
    def starting_now(
        cls, timeout_minutes: float | None, grace_minutes: float, now: float | None = None
    ) -> Deadline:
        if timeout_minutes is None:
            return cls()
        soft = (time.time() if now is None else now) + timeout_minutes * 60
        return cls(soft, soft + grace_minutes * 60)

    @classmethod
    def of(cls, study: optuna.Study) -> Deadline:
        attrs = study.user_attrs
        return cls(attrs.get(DEADLINE_ATTR), attrs.get(HARD_DEADLINE_ATTR))

    def as_attrs(self) -> dict[str, Any]:
        return {DEADLINE_ATTR: self.soft, HARD_DEADLINE_ATTR: self.hard}

    def no_new_trials(self, now: float | None = None) -> bool:
        return self.soft is not None and (time.time() if now is None else now) >= self.soft

    def hard_passed(self, now: float | None = None) -> bool:
        return self.hard is not None and (time.time() if now is None else now) >= self.hard

    def callback(self) -> Any:
        """An XGBoost callback that stops training at the hard deadline."""
        import xgboost as xgb

        deadline = self

        class StopAtHardDeadline(xgb.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                if deadline.hard_passed():
                    raise DeadlineReached(
                        f"stopped at the study's hard deadline {iso(deadline.hard)} "
                        f"after {epoch + 1} boosting rounds"
                    )
                return False

        return StopAtHardDeadline()
