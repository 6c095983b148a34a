"""The compose stack is valid and runs only files of this repository, which the tests run too."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, required_program

DOCKER = ROOT / "docker"
AIRFLOW_SERVICES = {"api-server", "scheduler", "dag-processor", "triggerer"}


@pytest.fixture(scope="module")
def compose() -> str:
    return required_program("docker-compose", debian_package="docker-compose")


def config(compose: str, env_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [compose, "--env-file", str(env_file), "-f", str(DOCKER / "compose.yaml")]
    return subprocess.run(
        [*command, *extra, "config"], capture_output=True, text=True, check=False, timeout=120
    )


def rendered(compose: str, *extra: str) -> dict[str, Any]:
    done = config(compose, DOCKER / ".env.example", *extra)
    assert done.returncode == 0, done.stderr
    return dict(yaml.safe_load(done.stdout))


def test_the_stack_has_every_service_and_shares_one_storage_path(compose: str) -> None:
    services = rendered(compose)["services"]
    expected = {"mysql", "airflow-init", "spark-master", "spark-worker", "spark-worker-gpu"}
    expected |= {f"airflow-{name}" for name in AIRFLOW_SERVICES}
    assert set(services) == expected
    assert services["spark-worker-gpu"]["profiles"] == ["gpu"]  # started only when asked
    for name in AIRFLOW_SERVICES:
        service = services[f"airflow-{name}"]
        assert service["command"] == ["/opt/retune/docker/airflow-service.sh", name]
        assert (
            service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        )
    assert services["airflow-init"]["depends_on"]["mysql"]["condition"] == "service_healthy"
    assert "healthcheck" in services["mysql"]
    for name in ("airflow-init", "airflow-scheduler", "spark-worker"):
        mounts = {v.split(":")[1] for v in services[name]["volumes"] if isinstance(v, str)}
        assert "/data/retune" in mounts, name
    gpu = services["spark-worker-gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"] and devices[0]["driver"] == "nvidia"


def test_a_missing_secret_is_named(compose: str, tmp_path: Path) -> None:
    lines = (DOCKER / ".env.example").read_text().splitlines()
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(x for x in lines if not x.startswith("OPTUNA_DB_PASSWORD=")))
    done = config(compose, env_file)
    assert done.returncode != 0 and "set OPTUNA_DB_PASSWORD in docker/.env" in done.stderr


def test_images_copy_and_services_run_files_of_this_repository() -> None:
    for dockerfile in ("Dockerfile", "gpu-worker.Dockerfile"):
        text = (DOCKER / dockerfile).read_text()
        for sources in re.findall(r"^COPY (.+) \S+$", text, flags=re.MULTILINE):
            for source in sources.split():
                assert (ROOT / source).exists(), f"{dockerfile}: COPY {source}"
    scripts = re.findall(r"/opt/retune/docker/([\w.-]+)", (DOCKER / "compose.yaml").read_text())
    assert set(scripts) >= {"airflow-init.sh", "airflow-service.sh", "spark-master.sh"}
    for script in scripts:
        assert os.access(DOCKER / script, os.X_OK), script
    assert "docker/.env" in (ROOT / ".gitignore").read_text().splitlines()


def test_a_gpu_worker_offers_its_gpus_to_spark(tmp_path: Path) -> None:
    # A stand-in spark-class records the command line the entrypoint builds.
    stub = tmp_path / "bin" / "spark-class"
    stub.parent.mkdir()
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$ARGS_OUT"\n')
    stub.chmod(0o755)
    env = {
        "PATH": f"{stub.parent}:{os.environ['PATH']}",
        "ARGS_OUT": str(tmp_path / "args"),
        "SPARK_MASTER_URL": "spark://m:7077",
        "SPARK_WORKER_DIR": str(tmp_path / "work"),
        "SPARK_WORKER_GPU_AMOUNT": "2",
        "SPARK_WORKER_GPU_DISCOVERY": "/opt/retune/tasks/jobs/get_gpus_resources.sh",
    }
    subprocess.run(["sh", str(DOCKER / "spark-worker.sh")], env=env, check=True)
    args = (tmp_path / "args").read_text().splitlines()
    properties = tmp_path / "work" / "worker-resources.properties"
    assert args[-3:] == ["--properties-file", str(properties), "spark://m:7077"]
    assert properties.read_text().splitlines() == [
        "spark.worker.resource.gpu.amount=2",
        "spark.worker.resource.gpu.discoveryScript=/opt/retune/tasks/jobs/get_gpus_resources.sh",
    ]
    del env["SPARK_WORKER_GPU_AMOUNT"]
    subprocess.run(["sh", str(DOCKER / "spark-worker.sh")], env=env, check=True)
    assert "--properties-file" not in (tmp_path / "args").read_text()
