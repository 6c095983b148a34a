"""Run the tune stage's real spark-submit command, and a Spark standalone cluster, from tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tasks.core import Layout, parse_spec
from tasks.spark import job_file, tune_args, tune_conf
from tasks.tuning.storage import STORAGE_ENV
from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def write_spec(directory: Path, data: dict[str, Any]) -> Path:
    path = directory / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def tune_command(
    spec_path: Path, ds: str, root: Path, map_index: int, try_number: int
) -> list[str]:
    """The command TuneOperator submits, built by the same hook (master from spark_default)."""
    from retune.hooks import RetuneSparkSubmitHook
    from retune.operators.tuning import worker_memory

    spec = parse_spec(yaml.safe_load(spec_path.read_text()))
    memory = worker_memory(spec, Layout(root, spec.name, ds))
    hook = RetuneSparkSubmitHook(
        conf=tune_conf(sys.executable, spec.tuning, spec.gpu, memory.executor_memory),
        application_args=tune_args(
            str(spec_path),
            ds,
            str(root),
            map_index,
            spec.tuning.spark_tasks_per_worker,
            try_number,
        ),
        name=f"retune-tune-{spec.name}-{ds}-{map_index}",
    )
    return hook._build_spark_submit_command(job_file("tune"))


def start_tune(command: list[str], storage_url: str, log: Path) -> subprocess.Popen[bytes]:
    """Start a tune application; stdout goes to ``log``, stderr (Spark's log) beside it.

    Apart, because the JVM's log lines would otherwise land inside the job's JSON line.
    """
    env = {**os.environ, STORAGE_ENV: storage_url, "PATH": f"{BIN}:{os.environ['PATH']}"}
    with log.open("wb") as out, stderr_log(log).open("wb") as err:
        return subprocess.Popen(command, env=env, stdout=out, stderr=err, start_new_session=True)


def stderr_log(log: Path) -> Path:
    return log.with_suffix(".err")


def finish(process: subprocess.Popen[bytes], log: Path, timeout: float) -> dict[str, Any]:
    """Wait for a tune application; its workers' summaries (the job's last JSON line)."""
    try:
        process.wait(timeout)
    finally:
        kill_group(process)
    text = log.read_text(errors="replace")
    assert process.returncode == 0, (
        text[-1000:] + stderr_log(log).read_text(errors="replace")[-3000:]
    )
    line = next(x for x in reversed(text.splitlines()) if x.startswith('{"workers"'))
    return dict(json.loads(line))


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    url: str
    worker_dirs: list[Path]


@contextmanager
def standalone_cluster(directory: Path, workers: int, cores: int) -> Iterator[Cluster]:
    """A Spark standalone master and ``workers`` workers, started by docker/'s entrypoints."""
    port, webui = free_port(), free_port()
    base = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "SPARK_LOCAL_IP": "127.0.0.1"}
    processes: list[subprocess.Popen[bytes]] = []
    logs = directory / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    def start(script: str, env: dict[str, str], name: str) -> None:
        with (logs / f"{name}.log").open("wb") as out:
            processes.append(
                subprocess.Popen(
                    ["sh", str(ROOT / "docker" / script)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    try:
        start(
            "spark-master.sh",
            {
                **base,
                "SPARK_MASTER_HOST": "127.0.0.1",
                "SPARK_MASTER_PORT": str(port),
                "SPARK_MASTER_WEBUI_PORT": str(webui),
            },
            "master",
        )
        url = f"spark://127.0.0.1:{port}"
        worker_dirs = []
        for index in range(workers):
            worker_dirs.append(directory / f"worker{index}")
            start(
                "spark-worker.sh",
                {
                    **base,
                    "SPARK_MASTER_URL": url,
                    "SPARK_WORKER_CORES": str(cores),
                    "SPARK_WORKER_MEMORY": "2g",
                    "SPARK_WORKER_DIR": str(worker_dirs[-1]),
                    "SPARK_WORKER_WEBUI_PORT": str(free_port()),
                },
                f"worker{index}",
            )
        deadline = time.monotonic() + 120
        alive = 0
        while time.monotonic() < deadline and alive < workers:
            time.sleep(1)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{webui}/json/", timeout=5) as page:
                    alive = int(json.load(page).get("aliveworkers", 0))
            except (OSError, ValueError):  # not up yet, or an empty page while it starts
                continue
        if alive < workers:
            raise AssertionError(f"{alive} of {workers} Spark workers registered; see {logs}")
        yield Cluster(url, worker_dirs)
    finally:
        for process in processes:
            kill_group(process)
