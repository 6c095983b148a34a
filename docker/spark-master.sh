#!/bin/sh
# Spark standalone master: the compose service's entrypoint, and what the tests start on the host.
set -eu
exec spark-class org.apache.spark.deploy.master.Master \
    --host "${SPARK_MASTER_HOST:-0.0.0.0}" \
    --port "${SPARK_MASTER_PORT:-7077}" \
    --webui-port "${SPARK_MASTER_WEBUI_PORT:-8080}"
