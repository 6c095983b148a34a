"""The export operator around its Spark job: the study check before submit, the XCom after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from tasks.core import NoCompletedTrial, journal_path, read_spec_file
from tasks.export import export_best
from tasks.tuning import create_study
from tasks.tuning.storage import journal_url, open_storage
from tests.conftest import DEMO_SPEC
from tests.export_support import DS, tuned
from tests.snapshots import published


def context(run_id: str = "scheduled__1") -> dict[str, Any]:
    return {"ds": DS, "params": {}, "run_id": run_id}


def operator(tmp_path: Path, spec_path: Path = DEMO_SPEC) -> Any:
    from retune.operators import ExportOperator

    return ExportOperator(task_id="export", spec_path=str(spec_path), storage_root=str(tmp_path))


def test_no_completed_trial_fails_at_once_without_submitting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.core import parse_spec
    from tests.conftest import demo_spec_data

    monkeypatch.delenv("AIRFLOW_CONN_OPTUNA_DEFAULT", raising=False)
    spec = parse_spec(demo_spec_data())
    published(tmp_path, spec, DS, rows=500)
    create_study(open_storage(journal_url(journal_path(tmp_path))), spec, DS)
    export = operator(tmp_path)
    submitted: list[str] = []
    monkeypatch.setattr(export, "submit", lambda _context, job, *a, **k: submitted.append(job))
    with pytest.raises(NoCompletedTrial, match="has no completed trial") as caught:
        export.execute(context())
    assert isinstance(caught.value, AirflowFailException)  # no retry: same study, same result
    assert submitted == [] and not (tmp_path / "models").exists()
    assert export.report_link.endswith(f"/models/demo_regression/ds={DS}/report.html")


def test_the_xcom_is_the_summary_of_what_the_job_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_OPTUNA_DEFAULT", raising=False)
    _, layout, storage = tuned(tmp_path)
    export = operator(tmp_path)

    def job(_context: Any, job_name: str, args: list[str], *_: Any, **__: Any) -> None:
        assert job_name == "export" and args[args.index("--run-id") + 1] == "manual__2"
        run_spec = read_spec_file(args[args.index("--spec") + 1])  # as the job reads it
        export_best(run_spec, layout, storage, "journal", run_id="manual__2")

    monkeypatch.setattr(export, "submit", job)
    summary = export.execute(context("manual__2"))
    assert summary["promoted"] is True and summary["run_id"] == "manual__2"
    assert Path(summary["model_path"]).is_file() and Path(summary["report"]).is_file()
    # A card left by another run is not taken for this run's result.
    with pytest.raises(Exception, match="is from run manual__2, not manual__3"):
        monkeypatch.setattr(export, "submit", lambda *a, **k: None)
        export.execute(context("manual__3"))
