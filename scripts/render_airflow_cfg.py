"""Render airflow.cfg.template into $AIRFLOW_HOME/airflow.cfg from environment values.

    python scripts/render_airflow_cfg.py [--output PATH]

Unset values take the defaults below (a local SQLite database under $AIRFLOW_HOME).
Secrets that are not in the environment are kept from the file already rendered, or made
anew, so that they never need to be written anywhere else.
"""

from __future__ import annotations

import argparse
import configparser
import os
import secrets
import string
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def defaults(env: dict[str, str]) -> dict[str, str]:
    home = env.get("AIRFLOW_HOME") or str(ROOT / "var" / "airflow")
    port = env.get("AIRFLOW_API_PORT") or "8080"
    return {
        "AIRFLOW_HOME": home,
        "RETUNE_HOME": str(ROOT),
        "AIRFLOW_EXECUTOR": "LocalExecutor",
        "AIRFLOW_PARALLELISM": "8",
        "AIRFLOW_API_PORT": port,
        # The compose stack binds 0.0.0.0 and points tasks at http://airflow-api-server:8080.
        "AIRFLOW_API_HOST": "127.0.0.1",
        "AIRFLOW_EXECUTION_API_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW_ADMIN_USER": "admin",
        # The scheduler, the DAG processor, the API server and CLI commands write the one
        # file: wait up to 60 s for its lock rather than the driver's 5 s (a write that
        # SQLite refuses at once is retried by scripts/airflow_run.py's `airflow`).
        "AIRFLOW_DB_URL": f"sqlite:///{home}/airflow.db?timeout=60",
        "RETUNE_REPORT_BASE_URL": "",
        "RETUNE_OPTUNA_DASHBOARD_URL": "",
    }


SECRETS = {
    "AIRFLOW_JWT_SECRET": ("api_auth", "jwt_secret"),
    "AIRFLOW_API_SECRET_KEY": ("api", "secret_key"),
    # Encrypts connection passwords in the metadata database.
    "AIRFLOW_FERNET_KEY": ("core", "fernet_key"),
}


def new_secret(name: str) -> str:
    if name == "AIRFLOW_FERNET_KEY":
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode()
    return secrets.token_urlsafe(48)


def kept_secrets(existing: Path) -> dict[str, str]:
    """The secrets of an already rendered file, or new ones."""
    parser = configparser.ConfigParser(interpolation=None)
    if existing.is_file():
        parser.read(existing)
    return {
        name: parser.get(section, key, fallback="") or new_secret(name)
        for name, (section, key) in SECRETS.items()
    }


def render(template: str, env: dict[str, str]) -> str:
    values = {**defaults(env), **{k: v for k, v in env.items() if v}}
    try:
        return string.Template(template).substitute(values)
    except KeyError as exc:
        raise SystemExit(f"airflow.cfg.template needs ${exc.args[0]} in the environment") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    env = dict(os.environ)
    home = Path(defaults(env)["AIRFLOW_HOME"])
    output = args.output or home / "airflow.cfg"
    output.parent.mkdir(parents=True, exist_ok=True)
    env = {**kept_secrets(output), **env}
    output.write_text(render((ROOT / "airflow.cfg.template").read_text(), env))
    output.chmod(0o600)
    print(output, file=sys.stderr)


if __name__ == "__main__":
    main()
