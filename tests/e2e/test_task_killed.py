"""The Airflow task killed: during the manual run from the UI (conftest's ``ui_run``), tune[0]
is marked failed through the REST API while its workers run trials, as from the UI. Its
on_kill stops the Spark application with nothing left running, and clearing the task
resumes the study to exactly its budget."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from tasks.tuning import counted_trials, study_name
from tests.e2e.conftest import DAG_ID, UI_TRIALS, Stack
from tests.fault_support import record

pytestmark = [pytest.mark.e2e, pytest.mark.mysql, pytest.mark.faults]


def test_a_killed_tune_task_stops_its_spark_application_and_a_clear_resumes_it(
    stack: Stack, ui_run: dict[str, Any], mysql_url: str
) -> None:
    ds, killed = ui_run["ds"], ui_run["killed"]
    # The JVM of spark-submit, the Python driver and the Python workers; all ended.
    assert killed["processes"] >= 3
    assert killed["running_when_killed"]
    tries = stack.query(
        "SELECT try_number, state FROM task_instance_history WHERE dag_id = ? AND run_id = ? "
        "AND task_id = 'tune' AND map_index = 0",
        DAG_ID,
        killed["run_id"],
    )
    assert (1, "failed") in tries
    log = (
        stack.logs
        / f"dag_id={DAG_ID}"
        / f"run_id={killed['run_id']}"
        / "task_id=tune"
        / "map_index=0"
        / "attempt=1.log"
    ).read_text()
    assert "Sending kill signal to spark-submit" in log
    assert ui_run["run"]["state"] == "success"

    trials = optuna.load_study(
        study_name=study_name(stack.spec.name, ds), storage=mysql_url
    ).get_trials()
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert len(counted_trials(trials)) == UI_TRIALS
    # A trial the kill interrupted was failed as stale and retried with its parameters.
    interrupted = [t for t in trials if t.state == TrialState.FAIL]
    for trial in interrupted:
        (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == trial.number]
        if trial.params:  # one claimed but not started yet has none to repeat
            assert retry.params == trial.params
    assert stack.xcoms("export", ds)[(-1, "return_value")]["run_id"] == killed["run_id"]
    record(
        "Airflow task killed",
        processes=killed["processes"],
        all_ended_within_seconds=killed["ended_after_seconds"],
        running_when_killed=killed["running_when_killed"],
        interrupted=[t.number for t in interrupted],
        finished=len(counted_trials(trials)),
        budget=UI_TRIALS,
        running=0,
    )
