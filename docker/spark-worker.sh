#!/bin/sh
# Spark standalone worker: the compose service's entrypoint, and what the tests start on the host.
# Executors run Retune's Python tasks, so this host needs the project installed (pip install .).
# SPARK_WORKER_GPU_AMOUNT (GPU workers): GPUs offered to Spark, found by the discovery
# script SPARK_WORKER_GPU_DISCOVERY.
set -eu
work_dir="${SPARK_WORKER_DIR:-/tmp/spark-work}"
set --
if [ -n "${SPARK_WORKER_GPU_AMOUNT:-}" ]; then
  mkdir -p "$work_dir"
  properties="$work_dir/worker-resources.properties"
  printf 'spark.worker.resource.gpu.amount=%s\nspark.worker.resource.gpu.discoveryScript=%s\n' \
    "$SPARK_WORKER_GPU_AMOUNT" \
    "${SPARK_WORKER_GPU_DISCOVERY:?set SPARK_WORKER_GPU_DISCOVERY, the GPU discovery script}" \
    > "$properties"
  set -- --properties-file "$properties"
fi
exec spark-class org.apache.spark.deploy.worker.Worker \
    --cores "${SPARK_WORKER_CORES:-2}" \
    --memory "${SPARK_WORKER_MEMORY:-2g}" \
    --work-dir "$work_dir" \
    --webui-port "${SPARK_WORKER_WEBUI_PORT:-8081}" \
    "$@" \
    "${SPARK_MASTER_URL:?set SPARK_MASTER_URL, for example spark://spark-master:7077}"
