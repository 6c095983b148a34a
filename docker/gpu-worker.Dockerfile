# The GPU Spark worker: CUDA runtime, the project with cudf, the RAPIDS Accelerator jar and
# the GPU discovery script, all fixed at build time.
FROM nvidia/cuda:12.9.1-runtime-ubuntu22.04

ARG RAPIDS_VERSION
ARG RAPIDS_SCALA=2.13
RUN apt-get update \
    && apt-get install -y --no-install-recommends software-properties-common curl ca-certificates \
    && add-apt-repository -y ppa:deadsnakes/ppa \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
       openjdk-17-jre-headless procps tini \
    && rm -rf /var/lib/apt/lists/* \
    && python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /opt/retune
COPY pyproject.toml requirements.lock README.md ./
RUN pip install --no-cache-dir uv==0.13.9 \
    && uv pip sync --no-cache requirements.lock
COPY airflow.cfg.template ./
COPY dags dags
COPY plugins plugins
COPY tasks tasks
COPY scripts scripts
COPY docker docker
RUN uv pip install --no-cache --no-deps . \
    && uv pip install --no-cache "cudf-cu12==26.10.2" \
    && mkdir -p /opt/rapids \
    && curl -fsSL -o /opt/rapids/rapids-4-spark.jar \
       "https://repo1.maven.org/maven2/com/nvidia/rapids-4-spark_${RAPIDS_SCALA}/${RAPIDS_VERSION}/rapids-4-spark_${RAPIDS_SCALA}-${RAPIDS_VERSION}.jar" \
    && useradd --uid 50000 --create-home retune \
    && mkdir -p /data/retune /tmp/spark-work \
    && chown retune /data/retune /tmp/spark-work

ENV RETUNE_HOME=/opt/retune \
    RETUNE_STORAGE_ROOT=/data/retune \
    RETUNE_RAPIDS_JAR=/opt/rapids/rapids-4-spark.jar \
    SPARK_WORKER_GPU_AMOUNT=1 \
    SPARK_WORKER_GPU_DISCOVERY=/opt/retune/tasks/jobs/get_gpus_resources.sh
USER retune
ENTRYPOINT ["tini", "--"]
