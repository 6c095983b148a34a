"""Fault injection for the reliability tests: process trees, a read-only storage root and a
private MariaDB server that a test may stop and start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, required_program
from tests.spark_support import free_port


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def parent_pids() -> dict[int, int]:
    """pid -> parent pid of every process."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError, IndexError, ValueError):
            # The command name (2nd field) is in parentheses and may hold spaces.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
    return parents


def process_tree(pid: int) -> set[int]:
    """``pid`` and all its descendants now alive."""
    parents = parent_pids()
    tree, grew = {pid} & set(parents), True
    while grew:
        children = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= children
        grew = bool(children)
    return tree


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    running = set()
    for pid in pids:
        with suppress(OSError, IndexError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                running.add(pid)
    return running


def command_line(pid: int) -> str:
    with suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def kill_tree(pid: int) -> set[int]:
    """SIGKILL ``pid`` and its descendants at once, as when their host dies; the pids."""
    tree = process_tree(pid)
    for member in tree:
        with suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)
    return tree


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` read-only for every process, root included, for the block.

    As root (CI), a read-only bind mount of the folder onto itself; otherwise the write
    bits are taken away.
    """
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
        for p, mode in modes.items():
            p.chmod(mode & ~0o222)
        try:
            yield
        finally:
            for p, mode in modes.items():
                with suppress(FileNotFoundError):
                    p.chmod(mode)
        return
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


class PrivateMariaDB:
    """A MariaDB server of the test's own (own data folder and port), so that stopping it
    harms no other test. The database and its least-privilege user are made by the same
    script as the compose stack's (docker/mysql-init.sh)."""

    def __init__(self, directory: Path) -> None:
        self.server = required_program("mariadbd", "mysqld", debian_package="mariadb-server")
        self.install = required_program(
            "mariadb-install-db", "mysql_install_db", debian_package="mariadb-server"
        )
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def command(self) -> list[str]:
        return [
            self.server,
            "--no-defaults",
            f"--datadir={self.data}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.directory / 'mysqld.sock'}",
            f"--pid-file={self.directory / 'mysqld.pid'}",
            "--user=root",
            "--skip-name-resolve",
        ]

    def __enter__(self) -> PrivateMariaDB:
        self.directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                self.install,
                "--no-defaults",
                f"--datadir={self.data}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
        )
        self.start()
        password = os.urandom(12).hex()
        user, database = "retune_fault", "retune_fault"
        env = {
            **os.environ,
            "MYSQL_ADMIN_HOST": "127.0.0.1",
            "MYSQL_ADMIN_PORT": str(self.port),
            "DB_USER_HOSTS": "localhost 127.0.0.1",
            "OPTUNA_DB_NAME": database,
            "OPTUNA_DB_USER": user,
            "OPTUNA_DB_PASSWORD": password,
        }
        subprocess.run(
            [str(ROOT / "docker" / "mysql-init.sh")], env=env, check=True, capture_output=True
        )
        self.url = f"mysql+pymysql://{user}:{password}@127.0.0.1:{self.port}/{database}"
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        log = (self.directory / "server.log").open("ab")
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for(self.answers, 60, f"MariaDB on port {self.port} (log {log.name})")

    def answers(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(1)
            try:
                sock.connect(("127.0.0.1", self.port))
                return bool(sock.recv(1))  # the server's greeting
            except OSError:
                return False

    def stop(self) -> None:
        """A clean shutdown, as by an operator or a failover."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
        self.process = None


def record(case: str, **facts: Any) -> None:
    """Keep what a reliability case observed: one JSON line, printed (``pytest -rA`` shows
    it) and appended to var/reliability/results.jsonl, whose figures docs/reliability.md
    reports."""
    import json
    from datetime import UTC, datetime

    line = json.dumps(
        {"case": case, "at": datetime.now(UTC).isoformat(timespec="seconds"), **facts},
        default=str,
    )
    print("reliability:", line)
    results = ROOT / "var" / "reliability" / "results.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as out:
        out.write(line + "\n")
