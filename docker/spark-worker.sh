#!/bin/sh
# Spark standalone worker: the compose service's entrypoint, and what the tests start on the host.
# Executors run Retune's Python tasks, so this host needs the project installed (pip install .).
set -eu
exec spark-class org.apache.spark.deploy.worker.Worker \
    --cores "${SPARK_WORKER_CORES:-2}" \
    --memory "${SPARK_WORKER_MEMORY:-2g}" \
    --work-dir "${SPARK_WORKER_DIR:-/tmp/spark-work}" \
    --webui-port "${SPARK_WORKER_WEBUI_PORT:-8081}" \
    "${SPARK_MASTER_URL:?set SPARK_MASTER_URL, for example spark://spark-master:7077}"
