#!/bin/sh
# One Airflow component (api-server, scheduler, dag-processor, triggerer): render this
# container's airflow.cfg from the environment, then run it. The compose services' entrypoint.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
python "$here/../scripts/render_airflow_cfg.py"
exec airflow "$@"
