"""Run one Retune pipeline for one ds through a real Airflow, then print what it produced.

    python scripts/airflow_run.py --dag retune_demo_regression --ds 2026-11-21 [--runner standalone]

``standalone`` starts `airflow standalone` (scheduler, dag-processor, api-server,
LocalExecutor), so mapped tune tasks run in parallel, and stops it afterwards.
``test`` uses `airflow dags test`, one task after another, with no services.
Rerunning the same ds clears the finished run and runs it again (idempotent by ds).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FINISHED = {"success", "failed"}


def airflow_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("AIRFLOW_HOME", str(ROOT / "var" / "airflow"))
    env.setdefault("RETUNE_STORAGE_ROOT", str(ROOT / "var" / "storage"))
    env["AIRFLOW_CONFIG"] = str(Path(env["AIRFLOW_HOME"]) / "airflow.cfg")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("GX_ANALYTICS_ENABLED", "false")
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return env


# A write that SQLite refuses at once, whatever its busy timeout: the transaction read
# first (Airflow opens a SAVEPOINT, reads, then inserts) and another process wrote since.
# Airflow rolls such a command back, so it can be retried.
SQLITE_LOCKED = "database is locked"
LOCKED_RETRIES = 5
BACKFILL_RUNNING = "AlreadyRunningBackfill"
# The scheduler closes a backfill that never got its runs 2 minutes after its creation.
ORPHAN_WAIT_SECONDS = 300
ORPHAN_POLL_SECONDS = 5


def airflow(env: dict[str, str], *args: str, capture: bool = False) -> str:
    """Run an Airflow CLI command; with ``capture``, its stdout, and a command refused by
    SQLite's lock is tried again (up to LOCKED_RETRIES times)."""
    for attempt in range(LOCKED_RETRIES + 1):
        result = subprocess.run(
            [str(BIN / "airflow"), *args], env=env, text=True, capture_output=capture, check=False
        )
        locked = capture and SQLITE_LOCKED in (result.stderr or "")
        if result.returncode == 0 or not locked or attempt == LOCKED_RETRIES:
            break
        time.sleep(2 + 3 * attempt)
    if result.returncode != 0:
        detail = (result.stderr or "")[-3000:] if capture else ""
        raise SystemExit(f"airflow {' '.join(args)} failed ({result.returncode})\n{detail}")
    return result.stdout if capture else ""


def create_backfill(env: dict[str, str], dag_id: str, first: str, last: str, *options: str) -> None:
    """`airflow backfill create` for ``first``..``last``, and its runs made.

    Airflow 3.3 commits a backfill before its runs and cleans up after a lock error only on
    Postgres and MySQL: when SQLite's lock refuses the runs, an open backfill without runs
    is left, and every retry is refused as another backfill running. Such an orphan is
    waited out (the scheduler closes it) and the backfill created again."""
    command = ["backfill", "create", "--dag-id", dag_id, "--from-date", first, "--to-date", last]
    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    for _ in range(LOCKED_RETRIES):
        try:
            airflow(env, *command, *options, capture=True)
        except SystemExit as exc:
            if BACKFILL_RUNNING not in str(exc) or not orphan_backfills(db, dag_id):
                raise
        orphans = orphan_backfills(db, dag_id)
        if not orphans:
            return
        wait_closed(db, orphans)
    raise SystemExit(f"the backfill of {dag_id} {first}..{last} never got its runs")


def read_airflow_db(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute(sql, args).fetchall()


def orphan_backfills(db: Path, dag_id: str) -> list[int]:
    """The DAG's open backfills that have no run (made or refused) at all."""
    rows = read_airflow_db(
        db,
        "SELECT id FROM backfill WHERE dag_id = ? AND completed_at IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM backfill_dag_run WHERE backfill_dag_run.backfill_id = backfill.id)",
        dag_id,
    )
    return [int(str(row[0])) for row in rows]


def wait_closed(db: Path, backfills: list[int]) -> None:
    marks = ",".join("?" * len(backfills))
    deadline = time.monotonic() + ORPHAN_WAIT_SECONDS
    while read_airflow_db(
        db, f"SELECT id FROM backfill WHERE id IN ({marks}) AND completed_at IS NULL", *backfills
    ):
        if time.monotonic() > deadline:
            raise SystemExit(f"{db}: the backfills {backfills} without runs were never closed")
        time.sleep(ORPHAN_POLL_SECONDS)


def prepare(env: dict[str, str]) -> None:
    """What the compose stack's airflow-init service runs, then the DAGs parsed once."""
    init = subprocess.run(
        ["sh", str(ROOT / "docker" / "airflow-init.sh")],
        env=env,
        text=True,
        capture_output=True,
        check=False,
    )
    if init.returncode != 0:
        raise SystemExit(f"docker/airflow-init.sh failed\n{(init.stdout + init.stderr)[-3000:]}")
    airflow(env, "dags", "reserialize", capture=True)


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def json_output(text: str) -> list[dict[str, str]]:
    """The JSON of an `airflow ... -o json` call (Airflow logs to stdout before it)."""
    lines = [line for line in text.splitlines() if line.startswith("[")]
    return list(json.loads(lines[-1])) if lines else []


def wait_for_api(port: int, server: subprocess.Popen[bytes], log_path: Path) -> None:
    """Tasks talk to the api-server: queueing one before it answers wastes a try."""
    url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"airflow standalone exited early; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(3)
    raise SystemExit(f"the Airflow api-server did not answer on {url}; see {log_path}")


def find_run(env: dict[str, str], dag_id: str, logical_date: str) -> dict[str, str] | None:
    runs = json_output(airflow(env, "dags", "list-runs", dag_id, "-o", "json", capture=True))
    for run in runs:
        if str(run.get("logical_date", "")).startswith(logical_date):
            return dict(run)
    return None


class Standalone:
    """`airflow standalone` (scheduler, dag-processor, api-server, triggerer) for a with-block."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = int(env.get("AIRFLOW_API_PORT", "8080"))
        self.log_path = Path(env["AIRFLOW_HOME"]) / "standalone.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Standalone:
        if port_in_use(self.port):
            raise SystemExit(f"port {self.port} is taken (another Airflow?); set AIRFLOW_API_PORT")
        with self.log_path.open("w") as log:
            # The compose services' entrypoint: render airflow.cfg, then run the component.
            self.process = subprocess.Popen(
                ["sh", str(ROOT / "docker" / "airflow-service.sh"), "standalone"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_api(self.port, self.process, self.log_path)
        return self

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise SystemExit(f"airflow standalone exited early; see {self.log_path}")

    def __exit__(self, *_: object) -> None:
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


def wait_for_run(
    env: dict[str, str], dag_id: str, ds: str, timeout: float, server: Standalone
) -> dict[str, str]:
    """The run of ``dag_id`` for ``ds`` once it has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check_alive()
        run = find_run(env, dag_id, ds)
        if run is not None and run["state"] in FINISHED:
            return run
        time.sleep(10)
    raise SystemExit(f"run of {dag_id} for {ds} did not finish within {timeout:.0f}s")


def run_standalone(env: dict[str, str], dag_id: str, ds: str, timeout: float) -> str:
    with Standalone(env) as server:
        airflow(env, "dags", "unpause", dag_id, capture=True)
        run = find_run(env, dag_id, ds)
        if run is not None and run["state"] in FINISHED:
            airflow(env, "tasks", "clear", dag_id, "-s", ds, "-e", ds, "--yes", capture=True)
        elif run is None:
            time.sleep(20)  # the scheduler may create the scheduled run for this interval
            if find_run(env, dag_id, ds) is None:
                airflow(
                    env,
                    "dags",
                    "trigger",
                    dag_id,
                    "--logical-date",
                    f"{ds}T00:00:00+00:00",
                    capture=True,
                )
        return wait_for_run(env, dag_id, ds, timeout, server)["state"]


def run_dags_test(env: dict[str, str], dag_id: str, ds: str) -> str:
    result = subprocess.run(
        [str(BIN / "airflow"), "dags", "test", dag_id, ds], env=env, text=True, check=False
    )
    return "success" if result.returncode == 0 else "failed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dag", required=True)
    parser.add_argument("--ds", required=True)
    parser.add_argument("--runner", choices=["standalone", "test"], default="standalone")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    env = airflow_env()
    prepare(env)
    if args.runner == "standalone":
        state = run_standalone(env, args.dag, args.ds, args.timeout)
    else:
        state = run_dags_test(env, args.dag, args.ds)
    print(f"run of {args.dag} for {args.ds}: {state}")
    if state != "success":
        raise SystemExit(f"the run failed; task logs are under {env['AIRFLOW_HOME']}/logs")


if __name__ == "__main__":
    main()
