"""OpenLineage: what each stage read and wrote, for the OpenLineage provider to emit, and
what a stage's Spark application needs to emit its own events.

Off unless the provider (``pip install 'retune[lineage]'``) has a transport configured
(``[openlineage] transport`` or ``AIRFLOW__OPENLINEAGE__TRANSPORT``, a config file or
connection). The provider calls ``get_openlineage_facets_on_complete`` on each operator
once its task has succeeded; the datasets follow the data: raw partition -> staging ->
snapshot -> model (-> champion), as :mod:`tasks.spark.lineage` names them. Each Spark
stage's application then emits its own START and COMPLETE (or FAIL) events, as a child
run of its task (:func:`spark_lineage`).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tasks.core import Layout, PipelineSpec

log = logging.getLogger(__name__)


def stage_lineage(task_id: str, spec: PipelineSpec, layout: Layout) -> Any:
    """The task's ``OperatorLineage`` (an empty one for a task that moves no data)."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset

    from tasks.spark import FILE_NAMESPACE, stage_datasets

    inputs, outputs = stage_datasets(task_id, spec, layout)
    return OperatorLineage(
        inputs=[Dataset(FILE_NAMESPACE, path) for path in inputs],
        outputs=[Dataset(FILE_NAMESPACE, path) for path in outputs],
    )


def spark_lineage(context: Context) -> tuple[dict[str, str], dict[str, str]]:
    """The Spark conf (the task as the OpenLineage parent job, in the keys the provider
    writes for Spark jobs) and the environment (the client's configuration, which may hold
    credentials, so never on the command line) of a stage's Spark application; both empty
    when OpenLineage is off or not installed."""
    try:
        from airflow.providers.openlineage import conf as lineage_conf
    except ImportError:
        return {}, {}
    try:
        if lineage_conf.is_disabled():
            return {}, {}
        from airflow.providers.openlineage.plugins.listener import get_openlineage_listener
        from airflow.providers.openlineage.utils.spark import (
            inject_parent_job_information_into_spark_properties,
        )

        from tasks.spark import LINEAGE_CONFIG_ENV

        listener = get_openlineage_listener()
        config = listener.adapter.get_openlineage_config() if listener is not None else None
        conf = inject_parent_job_information_into_spark_properties({}, context)
    except Exception as exc:  # lineage is a report: the task runs without it
        log.warning("no OpenLineage events from this Spark job: %s", exc)
        return {}, {}
    return conf, ({LINEAGE_CONFIG_ENV: json.dumps(config)} if config else {})
