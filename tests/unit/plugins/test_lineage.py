"""What each stage tells OpenLineage it read and wrote (retune.lineage)."""

from __future__ import annotations

from pathlib import Path

from tasks.core import Layout, parse_spec
from tests.conftest import demo_spec_data

DS = "2026-11-21"


def test_the_datasets_chain_raw_to_staging_to_snapshot_to_model(tmp_path: Path) -> None:
    from retune.lineage import stage_lineage

    spec = parse_spec(demo_spec_data())
    layout = Layout(tmp_path, spec.name, DS)

    def io(task: str) -> tuple[list[str], list[str]]:
        lineage = stage_lineage(task, spec, layout)
        assert all(d.namespace == "file" for d in [*lineage.inputs, *lineage.outputs])
        return [d.name for d in lineage.inputs], [d.name for d in lineage.outputs]

    raw = str(tmp_path / "raw" / "demo_regression" / f"ds={DS}")
    assert io("etl") == ([raw], [str(layout.staging_dir)])
    assert io("materialize") == ([str(layout.staging_dir)], [str(layout.dataset_dir)])
    assert io("tune") == ([str(layout.dataset_dir)], [])
    assert io("export") == ([str(layout.dataset_dir)], [str(layout.model_dir)])
    assert io("promote") == ([str(layout.model_dir)], [str(layout.champion_file)])
    assert io("keep_champion") == ([], [])


def test_an_operator_that_did_not_run_reports_no_lineage() -> None:
    from retune.operators import ExportOperator

    operator = ExportOperator(task_id="export", spec_path="unused.yaml")
    assert operator.get_openlineage_facets_on_complete(None) is None
