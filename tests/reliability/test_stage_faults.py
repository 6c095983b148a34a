"""Faults in the stages that publish: the storage root made read-only during materialize,
and the export job killed halfway. Neither may publish anything partial; a retry completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tasks.core import (
    CARD_FILE,
    MANIFEST,
    MODEL_FILE,
    SUCCESS_MARKER,
    Layout,
    SnapshotManifest,
    StorageNotWritable,
    journal_path,
)
from tasks.data import materialize
from tasks.spark import export_args, export_conf, job_file
from tasks.tuning.storage import STORAGE_ENV, journal_url
from tests.conftest import demo_spec_data
from tests.export_support import champion_model, tuned
from tests.fault_support import alive, process_tree, read_only, record, wait_for
from tests.snapshots import stage
from tests.spark_support import BIN, kill_group, write_spec

pytestmark = pytest.mark.faults
DS = "2026-11-21"


def hidden_leftovers(folder: Path) -> list[Path]:
    """What replace_dir builds aside (the champion's lock file is meant to stay)."""
    return sorted(folder.glob(".ds=*"))


def test_storage_root_read_only_during_materialize(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.core import parse_spec

    spec = parse_spec(demo_spec_data())
    root = tmp_path / "storage"
    layout = Layout(root, spec.name, DS)
    stage(layout, rows=3000)
    earlier = materialize.run_materialize(spec, layout)  # an earlier run's snapshot of this ds
    before = {p: p.read_bytes() for p in layout.dataset_dir.rglob("*") if p.is_file()}
    stage(layout, rows=4000)  # today's rerun staged new data

    copy_manifest = materialize.build_manifest
    faults: list[Any] = []

    def storage_turns_read_only(*args: Any) -> Any:
        """After the data is copied aside, before the manifest is written."""
        faults.append(read_only(root))
        faults[-1].__enter__()
        return copy_manifest(*args)

    monkeypatch.setattr(materialize, "build_manifest", storage_turns_read_only)
    try:
        with pytest.raises(StorageNotWritable) as caught:
            materialize.run_materialize(spec, layout)
    finally:
        for fault in faults:
            fault.__exit__(None, None, None)
    assert len(faults) == 1
    monkeypatch.setattr(materialize, "build_manifest", copy_manifest)

    message = str(caught.value)
    assert f"cannot publish {layout.staging_dir} to {layout.dataset_dir}" in message
    assert "Read-only file system" in message and "nothing was published" in message
    after = {p: p.read_bytes() for p in layout.dataset_dir.rglob("*") if p.is_file()}
    assert after == before  # the earlier snapshot, whole and unchanged
    assert hidden_leftovers(layout.dataset_dir.parent)  # the half-copy the fault stranded

    retried = materialize.run_materialize(spec, layout)  # the task's retry, storage writable again
    assert sum(retried.rows.values()) == 4000 != sum(earlier.rows.values())
    assert (layout.dataset_dir / SUCCESS_MARKER).is_file()
    assert SnapshotManifest.read(layout.dataset_dir / MANIFEST) == retried
    assert hidden_leftovers(layout.dataset_dir.parent) == []
    record("storage read-only during materialize", error=message, retry_rows=retried.rows)


def export_command(spec_path: Path, layout: Layout, run_id: str) -> list[str]:
    """The command ExportOperator submits (local master)."""
    from retune.hooks import RetuneSparkSubmitHook

    from tasks.core import load_spec

    spec = load_spec(spec_path)
    hook = RetuneSparkSubmitHook(
        conf=export_conf(sys.executable, spec.tuning, spec.gpu),
        application_args=export_args(
            str(spec_path), layout.ds, str(layout.root), "journal", run_id
        ),
        name=f"retune-export-{spec.name}-{layout.ds}",
    )
    return hook._build_spark_submit_command(job_file("export"))


def start_export(command: list[str], root: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        STORAGE_ENV: journal_url(journal_path(root)),
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


@pytest.mark.spark
def test_export_killed_halfway_leaves_the_champion_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SPARK_DEFAULT", raising=False)  # local[*]
    spec, layout, _ = tuned(tmp_path)
    champion_model(layout, spec, rounds=2, tmp_path=tmp_path)  # a weak champion to beat
    champion = layout.champion_file.read_bytes()
    spec_path = write_spec(tmp_path, spec.model_dump(by_alias=True, mode="json"))
    models = layout.model_dir.parent

    def model_written_aside() -> bool:
        return any((p / MODEL_FILE).is_file() for p in hidden_leftovers(models))

    first = start_export(export_command(spec_path, layout, "run-1"), tmp_path, tmp_path / "1.log")
    try:
        wait_for(model_written_aside, 300, "the export to write its model aside")
        doomed = process_tree(first.pid)
    finally:
        kill_group(first)  # the task and its Spark application die at once
    assert first.returncode == -9
    wait_for(lambda: not alive(doomed), 30, f"processes {alive(doomed)} of the killed export")

    assert layout.champion_file.read_bytes() == champion
    assert not layout.model_dir.exists()  # nothing half-written under the real name

    # The task's retry submits the same job again.
    second = start_export(export_command(spec_path, layout, "run-1"), tmp_path, tmp_path / "2.log")
    assert second.wait(600) == 0, (tmp_path / "2.log").read_text()[-3000:]
    card = json.loads((layout.model_dir / CARD_FILE).read_text())
    assert card["run_id"] == "run-1" and card["champion"]["promoted"] is True
    assert json.loads(layout.champion_file.read_text())["ds"] == DS
    assert hidden_leftovers(models) == []
    record(
        "export killed halfway",
        champion_unchanged_after_kill=True,
        retry_promoted=card["champion"]["promoted"],
    )
