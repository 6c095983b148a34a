"""One real Airflow (`airflow standalone`: scheduler, dag-processor, api-server, LocalExecutor)
for every end-to-end test, with real local Spark and the real MySQL as the Optuna storage.

Each pipeline the tests look at is a session fixture of its own (``scheduled_run``,
``ui_run``, ``backfill``, ``flights_run``, ``segments_runs``, ``approval_runs``,
``snapshot_runs``), which needs nothing but the running stack: any e2e file passes alone
and starts only the pipelines it uses. When the stack is up, the runs that need no
interaction are started at once, side by side (``LANE_STARTS``), and what follows them
without the UI (a rerun, runs by hand: ``FOLLOW_UPS``) starts in a thread as soon as they
end; each fixture then waits for its runs and does the rest (UI answers, the demo DAG's
next runs). The files run in
``FILE_ORDER``: the approval gate first (its answers must come before its timeout), the
demo DAG's runs one after another (scheduled, UI, backfill: one DAG, one champion), the
secrets check last (after every run).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from scripts.airflow_run import Standalone, airflow, airflow_env, create_backfill, prepare
from scripts.flights_example import write_days
from tasks.core import Layout, parse_spec
from tasks.data import write_day
from tests.conftest import ROOT, demo_spec_data

DAG_ID = "retune_demo_regression"
FLIGHTS_SPEC = ROOT / "examples" / "flights" / "flights_delay.yaml"
FLIGHTS_DAG_ID = "retune_flights_delay"
FLIGHTS_DS = "2013-03-01"
FLIGHTS_MISSING_DS = "2013-06-01"  # no raw partition is written for it
SEGMENTS_SPEC = ROOT / "examples" / "flights" / "flights_by_carrier.yaml"
SEGMENTS_DAG_ID = "retune_flights_by_carrier"
SEGMENTS_DAYS = ("2013-03-01", "2013-03-02")
SEGMENT_TRIALS = 4
APPROVAL_DAG_ID = "retune_demo_approval"
# Long enough to answer two runs in the UI, short for the third, which the approval fixture
# waits out. 2 minutes passed in the full suite but not with the file alone (a run timed out
# before the fixture had answered it), so 4.
APPROVAL_TIMEOUT_MINUTES = 4
SNAPSHOT_PIPELINE = "demo_on_snapshot"  # tuning.trigger: snapshot_asset
SNAPSHOT_DAG_ID = f"retune_{SNAPSHOT_PIPELINE}"
SNAPSHOT_TUNING_DAG_ID = f"{SNAPSHOT_DAG_ID}_tuning"
SNAPSHOT_TRIALS = 3
ROWS = 20_000  # the scheduled run
SMALL_ROWS = 3_000  # the backfill runs
N_TRIALS = 6
UI_TRIALS = 20  # enough for tune[0] to be killed mid-trial (tests/e2e/test_task_killed.py)
DASHBOARD = "http://optuna-dashboard.example:8080"
RUN_TIMEOUT = 1200
E2E_MYSQL_ENV = "RETUNE_TEST_MYSQL_E2E_URL"
RUN_FIELDS = (
    "run_id",
    "run_type",
    "state",
    "logical_date",
    "start_date",
    "end_date",
    "backfill_id",
)


# The order the e2e files run in; a file not named here runs after them, by name.
FILE_ORDER = (
    "test_approval_in_the_ui.py",
    "test_pipeline_through_airflow.py",
    "test_manual_run_from_the_ui.py",
    "test_task_killed.py",
    "test_backfill.py",
    "test_flights_through_airflow.py",
    "test_lineage.py",
    "test_segments_through_airflow.py",
    "test_tuning_on_the_snapshot_asset.py",
    "test_no_secret_anywhere.py",
)
LANES = pytest.StashKey[set[str]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The e2e files in FILE_ORDER; the pipelines their tests use are noted for ``stack``,
    which starts them. The first test waits for the stack and its first runs: longer
    than the suite's default timeout of 20 min on 2 cores."""
    e2e = [item for item in items if "e2e" in item.nodeid.split("/")]
    for item in e2e:
        item.add_marker(pytest.mark.timeout(2700))

    def rank(item: pytest.Item) -> tuple[int, str]:
        name = item.path.name
        return (FILE_ORDER.index(name) if name in FILE_ORDER else len(FILE_ORDER), name)

    if e2e:
        others = [item for item in items if item not in e2e]
        items[:] = others + sorted(e2e, key=rank)  # sorted() keeps a file's own order
    config.stash[LANES] = {
        name for item in e2e for name in getattr(item, "fixturenames", ()) if name in LANE_STARTS
    }


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """The end-to-end suite's own database (it runs beside the other tests)."""
    import os

    from tests.conftest import MYSQL_ENV, reachable_mysql_url

    return reachable_mysql_url(E2E_MYSQL_ENV if os.environ.get(E2E_MYSQL_ENV) else MYSQL_ENV)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def optuna_db_env(mysql_url: str) -> dict[str, str]:
    """The variables docker/airflow-init.sh turns into the optuna_default connection."""
    url = make_url(mysql_url)
    return {
        "OPTUNA_DB_HOST": str(url.host),
        "OPTUNA_DB_PORT": str(url.port),
        "OPTUNA_DB_USER": str(url.username),
        "OPTUNA_DB_PASSWORD": str(url.password),
        "OPTUNA_DB_NAME": str(url.database),
    }


class Stack:
    """The running Airflow and where its runs write."""

    def __init__(self, base: Path, env: dict[str, str], server: Standalone) -> None:
        self.base, self.env, self.server = base, env, server
        self.storage = Path(env["RETUNE_STORAGE_ROOT"])
        self.spec = parse_spec(
            yaml.safe_load((base / "specs" / "demo_regression.yaml").read_text())
        )
        self.airflow_db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
        self.logs = Path(env["AIRFLOW_HOME"]) / "logs"
        self.lineage = base / "lineage"
        self.started: set[str] = set()
        self.follow_ups: dict[str, Future[dict[str, Any]]] = {}
        self.pool = ThreadPoolExecutor(max_workers=len(FOLLOW_UPS), thread_name_prefix="lane")

    def start(self, lane: str) -> None:
        """Start ``lane``'s runs (LANE_STARTS), once, and what follows them (FOLLOW_UPS) in
        a thread of its own: a lane's later runs start when its first ones end, not when
        its fixture's turn comes."""
        if lane not in self.started:
            self.started.add(lane)
            LANE_STARTS[lane](self)
            if lane in FOLLOW_UPS:
                self.follow_ups[lane] = self.pool.submit(FOLLOW_UPS[lane], self)

    def followed_up(self, lane: str) -> dict[str, Any]:
        """What ``lane``'s follow-up found (its error, if it failed)."""
        self.start(lane)
        return self.follow_ups[lane].result()

    def layout(self, ds: str) -> Layout:
        return Layout(self.storage, self.spec.name, ds)

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        for _ in range(20):  # the scheduler may hold a write lock for a moment
            try:
                with sqlite3.connect(self.airflow_db, timeout=30) as db:
                    return db.execute(sql, args).fetchall()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                time.sleep(1)
        raise AssertionError(f"{self.airflow_db} stayed locked")

    def runs(self, dag_id: str = DAG_ID) -> dict[str, dict[str, Any]]:
        """Every run of the DAG by ds, with the RUN_FIELDS of each."""
        rows = self.query(
            "SELECT run_id, run_type, state, logical_date, start_date, end_date, backfill_id "
            "FROM dag_run WHERE dag_id = ?",
            dag_id,
        )
        runs = [dict(zip(RUN_FIELDS, row, strict=True)) for row in rows]
        return {str(run["logical_date"])[:10]: run for run in runs}

    def wait_for(
        self, ds: str, finished_after: Any = None, dag_id: str = DAG_ID, state: str = "success"
    ) -> dict[str, Any]:
        """The run for ``ds`` once it has finished (after ``finished_after``, for a rerun),
        in ``state``."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            self.server.check_alive()
            run = self.runs(dag_id).get(ds)
            if run and run["state"] in ("success", "failed") and run["end_date"] != finished_after:
                assert run["state"] == state, f"run for {ds} {run['state']}; logs in {self.logs}"
                return run
            time.sleep(5)
        raise AssertionError(
            f"the run for {ds} did not finish in {RUN_TIMEOUT}s; logs in {self.logs}"
        )

    def wait_for_run(
        self, dag_id: str, state: str = "success", run_id: str | None = None
    ) -> dict[str, Any]:
        """The run ``run_id`` of the DAG (or its only run) once it has finished in ``state``."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            self.server.check_alive()
            rows = self.query(
                "SELECT run_id, run_type, state, logical_date, start_date, end_date, "
                "backfill_id FROM dag_run WHERE dag_id = ?",
                dag_id,
            )
            runs = [dict(zip(RUN_FIELDS, row, strict=True)) for row in rows]
            if run_id is not None:
                runs = [run for run in runs if run["run_id"] == run_id]
            assert len(runs) <= 1, f"{dag_id} has {len(runs)} runs: {runs}"
            if runs and runs[0]["state"] in ("success", "failed"):
                run = runs[0]
                assert run["state"] == state, f"{run['run_id']} {run['state']}; logs in {self.logs}"
                return run
            time.sleep(5)
        raise AssertionError(f"no run of {dag_id} finished in {RUN_TIMEOUT}s; logs in {self.logs}")

    def task_state(self, ds: str, task_id: str, dag_id: str) -> tuple[str, str | None] | None:
        """The run id of ``ds`` and the state of its ``task_id``, once the run exists."""
        run = self.runs(dag_id).get(ds)
        if not run:
            return None
        assert run["state"] != "failed", f"the run for {ds} failed; logs in {self.logs}"
        rows = self.query(
            "SELECT state FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = ?",
            dag_id,
            run["run_id"],
            task_id,
        )
        return str(run["run_id"]), (rows[0][0] if rows else None)

    def released(self, dag_id: str, run_id: str, task_id: str) -> bool:
        """Whether the scheduler has heard from the executor that the task's worker let go
        of it (``awaiting_input``). An answer given before that hits a race in Airflow 3.3:
        the executor's late report of the paused workload sends the resumed task to retry."""
        line = f"TaskInstance Finished: dag_id={dag_id}, task_id={task_id}, run_id={run_id},"
        return any(
            line in text and "state=awaiting_input" in text
            for text in self.server.log_path.read_text(errors="replace").splitlines()
        )

    def wait_for_answer(self, ds: str, task_id: str, dag_id: str, page: str) -> None:
        """Until the answered task has left ``awaiting_input``; ``page`` is what the UI showed
        after the answer when it did not confirm it."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            found = self.task_state(ds, task_id, dag_id)
            if found and found[1] != "awaiting_input":
                return
            time.sleep(3)
        shown = f"; the page showed: {page[:2000]}" if page else ""
        raise AssertionError(f"{task_id} of {ds} still awaits input after its answer{shown}")

    def wait_until_idle(self, dag_id: str = DAG_ID) -> None:
        """Until no run of the DAG is queued or running."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            self.server.check_alive()
            if not self.query(
                "SELECT run_id FROM dag_run WHERE dag_id = ? AND state IN ('queued', 'running')",
                dag_id,
            ):
                return
            time.sleep(5)
        raise AssertionError(f"{dag_id} still had runs after {RUN_TIMEOUT}s; logs in {self.logs}")

    def wait_for_backfills(self, dag_id: str = DAG_ID) -> None:
        """Until the scheduler has marked every backfill complete (a new one is refused before)."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            open_ = self.query(
                "SELECT id FROM backfill WHERE dag_id = ? AND completed_at IS NULL", dag_id
            )
            if not open_:
                return
            time.sleep(3)
        raise AssertionError(f"backfills {open_} were not marked complete")

    def xcoms(self, task_id: str, ds: str) -> dict[tuple[int, str], Any]:
        run_id = self.runs()[ds]["run_id"]
        rows = self.query(
            "SELECT map_index, key, value FROM xcom "
            "WHERE dag_id = ? AND run_id = ? AND task_id = ?",
            DAG_ID,
            run_id,
            task_id,
        )
        return {(index, key): json.loads(value) for index, key, value in rows}


def today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture(scope="session")
def stack(
    mysql_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("e2e")
    storage, specs = base / "storage", base / "specs"
    specs.mkdir()
    # 3 s heartbeats: a killed task's trials turn stale after 9 s, not 30.
    spec_data = demo_spec_data(n_trials=N_TRIALS, num_boost_round=40, heartbeat_seconds=3)
    (specs / "demo_regression.yaml").write_text(yaml.safe_dump(spec_data))
    raw = storage / "raw" / "demo_regression"
    # The scheduler creates the run of the latest complete day (yesterday).
    write_day(raw, today() - timedelta(days=1), ROWS, seed=5)
    write_day(raw, today(), ROWS, seed=6)  # a manual run's ds is the day it is triggered
    for offset, day in enumerate(backfill_days()):
        write_day(raw, day, SMALL_ROWS, seed=10 + offset)
    # The real-data example beside it, smaller: its own DAG on the same Airflow.
    flights = yaml.safe_load(FLIGHTS_SPEC.read_text())
    flights["tuning"].update(n_trials=4, num_boost_round=60)
    # A deadline no run can meet: each run's missed-deadline alert is tested.
    flights["alerts"] = {"export_within_minutes": 0.25}
    (specs / FLIGHTS_SPEC.name).write_text(yaml.safe_dump(flights, sort_keys=False))
    # Segmented tuning on the same raw days: a model per large carrier, two days.
    by_carrier = yaml.safe_load(SEGMENTS_SPEC.read_text())
    by_carrier["tuning"].update(n_trials=4, num_boost_round=60)
    by_carrier["segments"]["n_trials"] = SEGMENT_TRIALS
    (specs / SEGMENTS_SPEC.name).write_text(yaml.safe_dump(by_carrier, sort_keys=False))
    write_days(storage, date.fromisoformat(SEGMENTS_DAYS[0]), date.fromisoformat(SEGMENTS_DAYS[-1]))
    # Every promotion waits for an approval: three past days, answered in the UI or not.
    (specs / "demo_approval.yaml").write_text(yaml.safe_dump(approval_spec_data()))
    for offset, day in enumerate(approval_days()):
        write_day(storage / "raw" / "demo_approval", day, SMALL_ROWS, seed=20 + offset)
    # Tuning in its own DAG, run when the snapshot Asset is updated.
    (specs / f"{SNAPSHOT_PIPELINE}.yaml").write_text(yaml.safe_dump(snapshot_spec_data()))
    for offset, day in enumerate(snapshot_days()):
        write_day(storage / "raw" / SNAPSHOT_PIPELINE, day, SMALL_ROWS, seed=30 + offset)
    env = airflow_env()
    (base / "lineage").mkdir()
    env.update(
        {
            # OpenLineage on, to files: one JSON file per event (tests/e2e/test_lineage.py).
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(base / "lineage" / "event")}
            ),
            "AIRFLOW_HOME": str(base / "airflow"),
            "AIRFLOW_CONFIG": str(base / "airflow" / "airflow.cfg"),
            "AIRFLOW_API_PORT": str(free_port()),
            # Every pipeline's runs side by side (LANE_STARTS): room for all their tasks at
            # once, so that a run's two tune tasks still run together.
            "AIRFLOW_PARALLELISM": "12",
            # The specs do not change during the suite: the dag-processor parses the DAG
            # file (every spec's DAGs) every 2 min, not every 10 s, and leaves the CPU to
            # the runs. `prepare` has serialized them once already.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "120",
            "RETUNE_STORAGE_ROOT": str(storage),
            "RETUNE_SPEC_DIR": str(specs),
            "AIRFLOW__RETUNE__OPTUNA_DASHBOARD_URL": DASHBOARD,
            **optuna_db_env(mysql_url),
        }
    )
    prepare(env)
    with Standalone(env) as server:
        running = Stack(base, env, server)
        for lane in LANE_STARTS:  # in this order: the approval gate's runs first
            if lane in request.config.stash.get(LANES, set()):
                running.start(lane)
        try:
            yield running
        finally:
            running.pool.shutdown(wait=False, cancel_futures=True)


def approval_days() -> list[date]:
    return [today() - timedelta(days=offset) for offset in (20, 19, 18)]


def approval_spec_data() -> dict[str, Any]:
    days = approval_days()
    data = demo_spec_data(n_trials=3, n_workers=1, num_boost_round=20)
    data.update(name="demo_approval", start_date=days[0].isoformat())
    data["end_date"] = days[-1].isoformat()  # no scheduled run: the backfill's days only
    data["source"]["path"] = "{storage_root}/raw/demo_approval/ds={ds}"
    data["export"] = {"approval": {"when": "always", "timeout_minutes": APPROVAL_TIMEOUT_MINUTES}}
    return data


def snapshot_days() -> list[date]:
    """A day whose snapshot triggers the tuning DAG, and a day without data."""
    return [today() - timedelta(days=offset) for offset in (30, 29)]


def snapshot_spec_data() -> dict[str, Any]:
    data = demo_spec_data(n_trials=SNAPSHOT_TRIALS, n_workers=1, trigger="snapshot_asset")
    data.update(name=SNAPSHOT_PIPELINE, start_date=snapshot_days()[0].isoformat())
    data["schedule"] = None  # runs are triggered by the test
    data["source"]["path"] = f"{{storage_root}}/raw/{SNAPSHOT_PIPELINE}/ds={{ds}}"
    return data


def backfill_days() -> list[date]:
    return [today() - timedelta(days=offset) for offset in (12, 11, 10)]


def start_approval_backfill(stack: Stack) -> None:
    days = [d.isoformat() for d in approval_days()]
    create_backfill(stack.env, APPROVAL_DAG_ID, days[0], days[-1], "--max-active-runs", "3")
    airflow(stack.env, "dags", "unpause", APPROVAL_DAG_ID, capture=True)


def start_scheduled_run(stack: Stack) -> None:
    """Unpaused, the DAG gets its scheduled run for yesterday, as every day."""
    airflow(stack.env, "dags", "unpause", DAG_ID, capture=True)


def start_flights_runs(stack: Stack) -> None:
    """The real-data example, as `make run` runs it: unpaused (it has no schedule, so
    nothing else starts), then triggered for its historical day, and for a day without
    data after it."""
    airflow(stack.env, "dags", "unpause", FLIGHTS_DAG_ID, capture=True)
    for ds in (FLIGHTS_DS, FLIGHTS_MISSING_DS):
        airflow(
            stack.env,
            *("dags", "trigger", FLIGHTS_DAG_ID, "--logical-date", f"{ds}T00:00:00+00:00"),
            capture=True,
        )


def start_segments_backfill(stack: Stack) -> None:
    """The segmented example's two days, one after the other (the second warm-starts
    each segment from the first).

    The backfill is created while the DAG is paused, then the DAG unpaused: when SQLite's
    lock refuses part of a backfill's runs, the CLI rolls them back, and a scheduler
    already scheduling those runs would stop (it skips a paused DAG's runs)."""
    first, last = SEGMENTS_DAYS[0], SEGMENTS_DAYS[-1]
    create_backfill(stack.env, SEGMENTS_DAG_ID, first, last, "--max-active-runs", "1")
    airflow(stack.env, "dags", "unpause", SEGMENTS_DAG_ID, capture=True)


def start_snapshot_data_run(stack: Stack) -> None:
    """The data DAG's run for a day, whose snapshot triggers the tuning DAG."""
    ds = snapshot_days()[0].isoformat()
    for dag_id in (SNAPSHOT_DAG_ID, SNAPSHOT_TUNING_DAG_ID):
        airflow(stack.env, "dags", "unpause", dag_id, capture=True)
    airflow(
        stack.env,
        *("dags", "trigger", SNAPSHOT_DAG_ID, "--logical-date", f"{ds}T00:00:00+00:00"),
        capture=True,
    )


# What each pipeline fixture starts as soon as the stack is up, in this order; the
# fixtures of the demo DAG's UI run and backfill start theirs when they run (one DAG,
# one run after another).
LANE_STARTS: dict[str, Callable[[Stack], None]] = {
    "approval_runs": start_approval_backfill,
    "scheduled_run": start_scheduled_run,
    "flights_run": start_flights_runs,
    "segments_runs": start_segments_backfill,
    "snapshot_runs": start_snapshot_data_run,
}


@pytest.fixture(scope="session")
def scheduled_run(stack: Stack) -> dict[str, Any]:
    """The demo DAG's scheduled run of yesterday."""
    stack.start("scheduled_run")
    return stack.wait_for((today() - timedelta(days=1)).isoformat())


@pytest.fixture(scope="session")
def ui_run(stack: Stack, mysql_url: str) -> dict[str, Any]:
    """A run of today triggered from the UI's form, after two refused tries."""
    from tests.e2e.airflow_ui import AirflowUI
    from tests.e2e.task_kill import kill_tune_mid_trial_and_clear

    stack.start("scheduled_run")  # the DAG unpaused (its manual runs wait otherwise)
    ds = today().isoformat()
    with AirflowUI(stack.server.url, stack.env["AIRFLOW_HOME"], stack.base) as ui:
        clamped = ui.typed_into_the_form("n_trials", "0")
        rejected = ui.trigger_with_json({"n_trials": 0})
        assert ds not in stack.runs()
        ui.trigger_with_the_form({"n_trials": str(UI_TRIALS)})
    # Faults too happen in real runs: this one's tune[0] is killed mid-trial, then cleared.
    killed = kill_tune_mid_trial_and_clear(stack, DAG_ID, ds, mysql_url)
    return {
        "ds": ds,
        "run": stack.wait_for(ds),
        "clamped": clamped,
        "rejected": rejected,
        "killed": killed,
    }


@pytest.fixture(scope="session")
def backfill(stack: Stack) -> dict[str, Any]:
    """Three past days through `airflow backfill create`, all three runs at once, once the
    DAG's other runs (scheduled, manual) have ended."""
    stack.start("scheduled_run")  # the DAG unpaused: a paused DAG's backfill runs wait
    stack.wait_until_idle()
    days = [d.isoformat() for d in backfill_days()]
    create_backfill(
        stack.env,
        DAG_ID,
        days[0],
        days[-1],
        *("--max-active-runs", "3"),
        # One tuning application per day: three days side by side are enough for 2 cores.
        *("--dag-run-conf", json.dumps({"n_workers": 1})),
    )
    runs = {ds: stack.wait_for(ds) for ds in days}
    stack.wait_for_backfills()
    return {"days": days, "runs": runs}


@pytest.fixture(scope="session")
def flights_run(stack: Stack) -> dict[str, Any]:
    """The real-data example's run of its historical day."""
    stack.start("flights_run")
    run = stack.wait_for(FLIGHTS_DS, dag_id=FLIGHTS_DAG_ID)
    return {"run": run, "runs": stack.runs(FLIGHTS_DAG_ID)}


def segments_follow_up(stack: Stack) -> dict[str, Any]:
    """The segmented example's backfill of two days, then a rerun of the first."""
    first = SEGMENTS_DAYS[0]
    runs = {ds: stack.wait_for(ds, dag_id=SEGMENTS_DAG_ID) for ds in SEGMENTS_DAYS}
    stack.wait_for_backfills(SEGMENTS_DAG_ID)
    index_before = json.loads(
        Layout(stack.storage, "flights_by_carrier", first).segments_index_file.read_text()
    )
    airflow(stack.env, "dags", "pause", SEGMENTS_DAG_ID, capture=True)
    before = stack.runs(SEGMENTS_DAG_ID)[first]["end_date"]
    create_backfill(stack.env, SEGMENTS_DAG_ID, first, first, "--reprocess-behavior", "completed")
    airflow(stack.env, "dags", "unpause", SEGMENTS_DAG_ID, capture=True)
    again = stack.wait_for(first, finished_after=before, dag_id=SEGMENTS_DAG_ID)
    stack.wait_for_backfills(SEGMENTS_DAG_ID)
    return {"runs": runs, "rerun": again, "index_before_rerun": index_before}


@pytest.fixture(scope="session")
def segments_runs(stack: Stack) -> dict[str, Any]:
    """The segmented example: a backfill of two days, then a rerun of the first."""
    return stack.followed_up("segments_runs")


@pytest.fixture(scope="session")
def approval_runs(stack: Stack) -> dict[str, Any]:
    """Three days side by side, each export waiting for an approval: the first approved
    in the UI, the second rejected there (each answered as soon as it asks), the third
    left to time out."""
    from tests.e2e.airflow_ui import AirflowUI

    stack.start("approval_runs")
    days = [d.isoformat() for d in approval_days()]
    answers = dict(zip(days[:2], ("Approve", "Reject"), strict=True))
    shown, report_href = {}, ""
    deadline = time.monotonic() + RUN_TIMEOUT
    with AirflowUI(stack.server.url, stack.env["AIRFLOW_HOME"], stack.base) as ui:
        while answers:
            assert time.monotonic() < deadline, f"{sorted(answers)} never asked for an answer"
            stack.server.check_alive()
            for ds, option in list(answers.items()):
                found = stack.task_state(ds, "approve_promotion", APPROVAL_DAG_ID)
                if not found or found[1] != "awaiting_input":
                    continue
                run_id = found[0]
                if not stack.released(APPROVAL_DAG_ID, run_id, "approve_promotion"):
                    continue
                shown[ds] = ui.answer_required_action(
                    APPROVAL_DAG_ID, run_id, "approve_promotion", option
                )
                if option == "Approve":
                    report_href = ui.last_report_href
                stack.wait_for_answer(ds, "approve_promotion", APPROVAL_DAG_ID, ui.last_answer_page)
                del answers[ds]
            time.sleep(3)
    runs = {ds: stack.wait_for(ds, dag_id=APPROVAL_DAG_ID) for ds in days}
    stack.wait_for_backfills(APPROVAL_DAG_ID)
    return {"days": days, "runs": runs, "shown": shown, "report_href": report_href}


def snapshot_follow_up(stack: Stack) -> dict[str, Any]:
    """The data DAG run for a day, the tuning run its snapshot triggers, then two tuning runs
    by hand: the same day with a larger budget, and a day without a snapshot."""
    ds, missing = (d.isoformat() for d in snapshot_days())
    layout = Layout(stack.storage, SNAPSHOT_PIPELINE, ds)
    data_run = stack.wait_for(ds, dag_id=SNAPSHOT_DAG_ID)
    triggered = stack.wait_for_run(SNAPSHOT_TUNING_DAG_ID)
    card_after_event = json.loads(layout.card_file.read_text())
    by_hand = {}
    for day, trials, state in ((ds, SNAPSHOT_TRIALS + 2, "success"), (missing, 1, "failed")):
        run_id = f"by_hand_{day}"
        conf = {"ds": day, "n_trials": trials}
        airflow(
            stack.env,
            *("dags", "trigger", SNAPSHOT_TUNING_DAG_ID, "--run-id", run_id),
            *("--conf", json.dumps(conf)),
            capture=True,
        )
        by_hand[day] = stack.wait_for_run(SNAPSHOT_TUNING_DAG_ID, state=state, run_id=run_id)
    return {
        "ds": ds,
        "missing": missing,
        "data_run": data_run,
        "triggered": triggered,
        "card_after_event": card_after_event,
        "by_hand": by_hand,
    }


@pytest.fixture(scope="session")
def snapshot_runs(stack: Stack) -> dict[str, Any]:
    """The snapshot-triggered tuning DAG's runs (:func:`snapshot_follow_up`)."""
    return stack.followed_up("snapshot_runs")


# What a lane runs once its first runs end, in a thread beside the other lanes: a rerun, or
# runs by hand. Their fixtures wait for the result.
FOLLOW_UPS: dict[str, Callable[[Stack], dict[str, Any]]] = {
    "segments_runs": segments_follow_up,
    "snapshot_runs": snapshot_follow_up,
}


def rerun(stack: Stack, ds: str) -> dict[str, Any]:
    """Run ``ds`` again, as a user would: a backfill that reprocesses completed runs."""
    before = stack.runs()[ds]["end_date"]
    create_backfill(stack.env, DAG_ID, ds, ds, "--reprocess-behavior", "completed")
    run = stack.wait_for(ds, finished_after=before)
    stack.wait_for_backfills()
    return run
