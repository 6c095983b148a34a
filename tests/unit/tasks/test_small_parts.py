from __future__ import annotations

import numpy as np
import pytest

from tasks.core import Layout, RetuneError, StorageUnreachable, TuningSpec, check_ds, resolve_device
from tasks.model.metrics import auc, mae, rmse
from tasks.spark import job_file, tune_conf
from tasks.tuning.seeds import worker_seed
from tasks.tuning.storage import mask_url, open_storage


def test_worker_seeds_differ_per_map_index_partition_and_attempt() -> None:
    seeds = {worker_seed(42, m, p, a) for m in range(4) for p in range(4) for a in range(3)}
    assert len(seeds) == 48
    assert worker_seed(42, 1, 2, 3) == worker_seed(42, 1, 2, 3)
    assert all(0 <= s < 2**31 for s in seeds)


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2026-1-2", "../../etc"])
def test_ds_must_be_an_iso_date(bad: str) -> None:
    with pytest.raises(RetuneError, match="is not a date of the form YYYY-MM-DD"):
        check_ds(bad)


def test_layout_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    layout = Layout(tmp_path, "demo", "2026-11-21")
    assert layout.dataset_dir == tmp_path / "datasets" / "demo" / "ds=2026-11-21"
    assert layout.model_dir == tmp_path / "models" / "demo" / "ds=2026-11-21"


def test_metrics_on_known_values() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.0, 2.0, 3.0, 6.0])
    assert rmse(y, pred) == pytest.approx(1.0)
    assert mae(y, pred) == pytest.approx(0.5)
    assert auc(np.array([0, 0, 1, 1.0]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)


def test_gpu_modes_fall_back_or_fail_clearly() -> None:
    assert resolve_device("off", gpus=4) == "cpu"
    assert resolve_device("auto", gpus=0) == "cpu"
    assert resolve_device("auto", gpus=1) == "cuda"
    assert resolve_device("on", gpus=2) == "cuda"
    with pytest.raises(RetuneError, match="gpu mode 'on' but no GPU is visible"):
        resolve_device("on", gpus=0)


def test_storage_url_password_is_masked() -> None:
    assert mask_url("mysql+pymysql://retune:s3cr3t@db:3306/optuna") == (
        "mysql+pymysql://retune:***@db:3306/optuna"
    )


def test_unreachable_mysql_is_one_clear_error() -> None:
    # Port 9 (discard) has no MySQL behind it on any test machine.
    with pytest.raises(StorageUnreachable) as caught:
        open_storage("mysql+pymysql://retune:hunter22@127.0.0.1:9/optuna")
    text = str(caught.value)
    assert text.startswith("Optuna storage unreachable: MySQL at mysql+pymysql://retune:***@")
    assert "hunter22" not in text


def test_unknown_storage_url_is_rejected() -> None:
    with pytest.raises(StorageUnreachable, match="neither mysql"):
        open_storage("sqlite:///optuna.db")


def test_spark_job_files_and_tune_conf() -> None:
    assert tune_conf("/py", TuningSpec(), "off")["spark.speculation"] == "false"
    assert job_file("etl").endswith("tasks/jobs/etl_job.py")
    with pytest.raises(ValueError, match="no Spark job named 'nope'"):
        job_file("nope")
