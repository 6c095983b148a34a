"""OpenLineage: what each stage read and wrote, for the OpenLineage provider to emit.

Off unless the provider (``pip install 'retune[lineage]'``) has a transport configured
(``[openlineage] transport`` or ``AIRFLOW__OPENLINEAGE__TRANSPORT``). The provider calls
``get_openlineage_facets_on_complete`` on each operator once its task has succeeded; the
datasets follow the data: raw partition -> staging -> snapshot -> model (-> champion).
Files are named as OpenLineage names local files: namespace ``file``, the absolute path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasks.core import Layout, PipelineSpec

FILE_NAMESPACE = "file"

# The datasets each task id reads and writes.
STAGE_DATASETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "etl": (("raw",), ("staging",)),
    "validate": (("staging",), ()),
    "materialize": (("staging",), ("snapshot",)),
    "tune": (("snapshot",), ()),
    "export": (("snapshot",), ("model",)),
    "promote": (("model",), ("champion",)),
}


def dataset_path(kind: str, spec: PipelineSpec, layout: Layout) -> str:
    paths: dict[str, Callable[[], str | Path]] = {
        "raw": lambda: spec.source_path(str(layout.root), layout.ds),
        "staging": lambda: layout.staging_dir,
        "snapshot": lambda: layout.dataset_dir,
        "model": lambda: layout.model_dir,
        "champion": lambda: layout.champion_file,
    }
    return os.path.abspath(paths[kind]())


def stage_lineage(task_id: str, spec: PipelineSpec, layout: Layout) -> Any:
    """The task's ``OperatorLineage`` (an empty one for a task that moves no data)."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset

    inputs, outputs = STAGE_DATASETS.get(task_id, ((), ()))

    def datasets(kinds: tuple[str, ...]) -> list[Dataset]:
        return [Dataset(FILE_NAMESPACE, dataset_path(k, spec, layout)) for k in kinds]

    return OperatorLineage(inputs=datasets(inputs), outputs=datasets(outputs))
