"""The tune stage's real spark-submit applications on MySQL: two applications x two tasks on a
Spark standalone cluster. (Killed applications and their retries: tests/reliability and the
killed task of tests/e2e.)"""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tasks.core import parse_spec
from tasks.tuning import create_study
from tasks.tuning.storage import open_storage
from tests.snapshots import published
from tests.spark_support import (
    finish,
    standalone_cluster,
    start_tune,
    tune_command,
    write_spec,
)
from tests.tuning_support import tuning_spec_data

pytestmark = [pytest.mark.mysql, pytest.mark.spark]
DS = "2026-11-21"


@pytest.mark.cluster
def test_two_applications_of_two_tasks_on_a_standalone_cluster(
    mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tuning_spec_data(
        n_trials=12,
        n_workers=2,
        spark_tasks_per_worker=2,
        num_boost_round=150,
        early_stopping_rounds=None,
    )
    spec = parse_spec(data)
    spec_path = write_spec(tmp_path, data)
    published(tmp_path, spec, DS, rows=4000)
    name = create_study(open_storage(mysql_url), spec, DS)["study_name"]

    with standalone_cluster(tmp_path / "spark", workers=2, cores=2) as cluster:
        host, port = cluster.url.removeprefix("spark://").split(":")
        monkeypatch.setenv(
            "AIRFLOW_CONN_SPARK_DEFAULT",
            json.dumps({"conn_type": "spark", "host": f"spark://{host}", "port": int(port)}),
        )
        apps = [
            start_tune(
                tune_command(spec_path, DS, tmp_path, i, 1), mysql_url, tmp_path / f"app{i}.log"
            )
            for i in range(2)
        ]
        results = [finish(app, tmp_path / f"app{i}.log", 600) for i, app in enumerate(apps)]
        executors = [sorted(d.glob("app-*/*")) for d in cluster.worker_dirs]

    trials = optuna.load_study(study_name=name, storage=mysql_url).get_trials()
    assert len(trials) == 12
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    labels = {t.user_attrs["retune"]["worker"] for t in trials}
    assert labels == {"w0.p0.a1000", "w0.p1.a1000", "w1.p0.a1000", "w1.p1.a1000"}
    assert len({t.user_attrs["retune"]["seed"] for t in trials}) == len(labels)
    assert sum(len(r["workers"]) for r in results) == 4
    assert all(executors), "each Spark worker ran executors"
    assert len({p.parent.name for ex in executors for p in ex}) == 2  # both applications
