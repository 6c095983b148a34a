"""Kill a running tune task through Airflow (marked failed, as from the UI), then clear it."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from scripts.airflow_run import airflow
from tasks.tuning import study_name
from tests.fault_support import alive, command_line, process_tree, wait_for

if TYPE_CHECKING:
    from tests.e2e.conftest import Stack


def api(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call Airflow's REST API as the admin user."""
    passwords = Path(stack.env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    login = {"username": "admin", "password": json.loads(passwords.read_text())["admin"]}
    token_request = urllib.request.Request(
        f"{stack.server.url}/auth/token",
        data=json.dumps(login).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(token_request, timeout=30) as answer:
        token = json.load(answer)["access_token"]
    request = urllib.request.Request(
        f"{stack.server.url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


def tune_application(pipeline: str, ds: str, worker: int) -> int | None:
    """The spark-submit process of tune[worker] for ``ds``, once it runs."""
    name = f"retune-tune-{pipeline}-{ds}-{worker}"
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            line = command_line(int(entry.name))
            if "SparkSubmit" in line and name in line:
                return int(entry.name)
    return None


def kill_tune_mid_trial_and_clear(
    stack: Stack, dag_id: str, ds: str, mysql_url: str
) -> dict[str, Any]:
    """Once tune[0]'s workers run a trial, mark the task failed through the REST API; when
    its Spark application has ended, clear what failed, as a user retries. What was seen."""
    name = study_name(stack.spec.name, ds)

    def w0_is_training() -> tuple[int, list[int]] | None:
        pid = tune_application(stack.spec.name, ds, 0)
        if pid is None:
            return None
        try:
            trials = optuna.load_study(study_name=name, storage=mysql_url).get_trials()
        except KeyError:
            return None
        running = [
            t.number
            for t in trials
            if t.state == TrialState.RUNNING
            and t.user_attrs.get("retune", {}).get("worker", "").startswith("w0.")
        ]
        return (pid, running) if running else None

    submit, running = wait_for(w0_is_training, 900, "tune[0] to run a trial")
    application = process_tree(submit)
    run_id = stack.runs()[ds]["run_id"]
    api(
        stack,
        "PATCH",
        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/tune/0",
        {"new_state": "failed"},
    )
    killed_at = time.monotonic()
    wait_for(lambda: not alive(application), 120, "the killed task's Spark application to end")
    ended_after = time.monotonic() - killed_at
    airflow(
        stack.env,
        *("tasks", "clear", dag_id, "--only-failed", "--downstream", "--yes"),
        # A manual run's logical date is the moment it was triggered, not midnight.
        *("--start-date", f"{ds}T00:00:00+00:00", "--end-date", f"{ds}T23:59:59+00:00"),
        capture=True,
    )
    return {
        "run_id": run_id,
        "processes": len(application),
        "ended_after_seconds": round(ended_after, 1),
        "running_when_killed": running,
    }
