"""A manual run from the Airflow UI's trigger form, in headless Chromium."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from tasks.core import CARD_FILE
from tasks.tuning import counted_trials, study_name
from tasks.tuning.study import BUDGET_ATTR
from tests.e2e.conftest import UI_TRIALS, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.mysql, pytest.mark.browser]


def test_an_out_of_range_n_trials_is_refused(ui_run: dict[str, Any]) -> None:
    assert ui_run["clamped"] == "1"  # the form's field keeps to the Param's minimum
    # Typed into the conf JSON instead, the server's JSON-schema check refuses it.
    assert "Invalid input for param n_trials: 0 is less than the minimum of 1" in ui_run["rejected"]


def test_the_run_used_the_n_trials_submitted_in_the_form(
    stack: Stack, ui_run: dict[str, Any], mysql_url: str
) -> None:
    ds = ui_run["ds"]
    assert ui_run["run"]["run_type"] == "manual"
    study = optuna.load_study(study_name=study_name(stack.spec.name, ds), storage=mysql_url)
    # Counted: finished trials, a failed one's retry in its place (tune[0] was killed).
    assert len(counted_trials(study.get_trials())) == UI_TRIALS != stack.spec.tuning.n_trials
    assert study.user_attrs[BUDGET_ATTR] == UI_TRIALS
    assert (stack.layout(ds).model_dir / CARD_FILE).is_file()
