"""Create or update Retune's Airflow connections from the environment.

    SPARK_MASTER_URL=spark://spark-master:7077      -> spark_default
    OPTUNA_DB_PASSWORD (+ OPTUNA_DB_HOST, _PORT,    -> optuna_default (type mysql)
    _USER, _NAME)

Unset variables leave their connection alone (no Spark connection means local[*], no
Optuna connection means the embedded journal). The password goes to `airflow connections
import` through a private temporary file, never on a command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def spark_connection(master: str) -> dict[str, Any]:
    """``spark://host:port`` as the Spark provider reads it; other masters as they are."""
    parts = urlsplit(master)
    if parts.scheme == "spark" and parts.hostname:
        return {
            "conn_type": "spark",
            "host": f"spark://{parts.hostname}",
            "port": parts.port or 7077,
        }
    return {"conn_type": "spark", "host": master}


def connections(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    if env.get("SPARK_MASTER_URL"):
        found["spark_default"] = spark_connection(env["SPARK_MASTER_URL"])
    if env.get("OPTUNA_DB_PASSWORD"):
        found["optuna_default"] = {
            "conn_type": "mysql",
            "host": env.get("OPTUNA_DB_HOST", "mysql"),
            "port": int(env.get("OPTUNA_DB_PORT", "3306")),
            "login": env.get("OPTUNA_DB_USER", "retune"),
            "password": env["OPTUNA_DB_PASSWORD"],
            "schema": env.get("OPTUNA_DB_NAME", "optuna"),
        }
    return found


def main() -> None:
    found = connections(dict(os.environ))
    if not found:
        print("no connection settings in the environment; none created", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "connections.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(found))
        airflow = Path(sys.executable).parent / "airflow"
        command = [str(airflow) if airflow.is_file() else "airflow", "connections", "import"]
        subprocess.run([*command, "--overwrite", str(path)], check=True, capture_output=True)
    print(f"connections: {', '.join(sorted(found))}", file=sys.stderr)


if __name__ == "__main__":
    main()
