"""One resolved spec per run, through the operators and their real spark-submit jobs.

The YAML is edited after ETL; validate, materialize, create_study, tune and export of
the same run still use the version ETL wrote to the run's spec.json. A new run reads
the edited YAML.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from tasks.core import Layout, journal_path, read_run_spec
from tasks.data import write_day
from tasks.tuning import study_name
from tasks.tuning.storage import journal_url, open_storage
from tests.conftest import demo_spec_data

pytestmark = [pytest.mark.spark]
DS = "2026-11-21"
RUN = "manual__2026-11-22T08:00:00+00:00"


class TaskInstance:
    def __init__(self, task_id: str, map_index: int = -1) -> None:
        self.task_id = task_id
        self.map_index = map_index
        self.try_number = 1
        self.start_date = datetime.now(UTC)
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


def run_task(operator: Any, run_id: str = RUN) -> tuple[Any, TaskInstance]:
    """execute + post_execute, as Airflow's task runner calls them."""
    ti = TaskInstance(operator.task_id, getattr(operator, "worker_index", -1))
    context = {"ds": DS, "params": {}, "run_id": run_id, "ti": ti}
    result = operator.execute(context)
    operator.post_execute(context, result)
    return result, ti


def write_spec(path: Path, n_trials: int, seed: int) -> None:
    data = demo_spec_data(n_trials=n_trials, n_workers=1, spark_tasks_per_worker=1, seed=seed)
    path.write_text(yaml.safe_dump(data))


def test_a_yaml_edited_mid_run_changes_none_of_the_runs_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retune import operators as op

    for name in ("AIRFLOW_CONN_SPARK_DEFAULT", "AIRFLOW_CONN_OPTUNA_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    spec_file = tmp_path / "demo_regression.yaml"
    write_spec(spec_file, n_trials=3, seed=11)
    root = tmp_path / "storage"
    write_day(root / "raw" / "demo_regression", date.fromisoformat(DS), 1500, seed=1)
    common = {"spec_path": str(spec_file), "pipeline": "demo_regression", "storage_root": str(root)}
    layout = Layout(root, "demo_regression", DS)

    _, etl_ti = run_task(op.EtlOperator(task_id="etl", **common))
    run_spec_file = layout.run_spec_file(RUN)
    written = read_run_spec(run_spec_file)
    first_bytes = run_spec_file.read_bytes()
    assert written.spec.tuning.n_trials == 3 and etl_ti.xcoms["spec_sha256"] == written.sha256

    write_spec(spec_file, n_trials=7, seed=99)  # the YAML changes while the run goes on

    tis = [run_task(op.ValidateOperator(task_id="validate", **common))[1]]
    tis.append(run_task(op.MaterializeOperator(task_id="materialize", **common))[1])
    workers, ti = run_task(op.CreateStudyOperator(task_id="create_study", **common))
    tis.append(ti)
    assert workers == [0]
    tune_result, ti = run_task(op.TuneOperator(task_id="tune", worker_index=0, **common))
    tis.append(ti)
    export_result, ti = run_task(op.ExportOperator(task_id="export", **common))
    tis.append(ti)

    assert run_spec_file.read_bytes() == first_bytes
    assert {t.xcoms["spec_sha256"] for t in tis} == {written.sha256}
    study = optuna.load_study(
        study_name=study_name("demo_regression", DS),
        storage=open_storage(journal_url(journal_path(root))),
    )
    assert len(study.trials) == 3 and tune_result["budget"] == tune_result["finished"] == 3
    card = json.loads(layout.card_file.read_text())
    assert card["spec_sha256"] == export_result["spec_sha256"] == written.sha256
    assert card["seeds"]["base"] == 11 and card["run_id"] == RUN

    later = "manual__2026-11-23T08:00:00+00:00"
    run_task(op.CreateStudyOperator(task_id="create_study", **common), run_id=later)
    assert read_run_spec(layout.run_spec_file(later)).spec.tuning.n_trials == 7
