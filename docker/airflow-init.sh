#!/bin/sh
# Prepare Airflow: render airflow.cfg from the environment, migrate the metadata database,
# create Retune's connections. The compose stack's airflow-init service runs it; so do
# scripts/airflow_run.py (make demo) and the end-to-end tests, on the host.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
for name in AIRFLOW_DB_PASSWORD OPTUNA_DB_PASSWORD AIRFLOW_JWT_SECRET AIRFLOW_API_SECRET_KEY \
  AIRFLOW_FERNET_KEY; do
  if [ "$(printenv "$name" || true)" = "change-me" ]; then
    echo "airflow-init: $name is still change-me; set it in docker/.env" >&2
    exit 2
  fi
done
python "$here/../scripts/render_airflow_cfg.py"
airflow db migrate
python "$here/../scripts/create_connections.py"
