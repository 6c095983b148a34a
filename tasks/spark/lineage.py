"""OpenLineage: what each stage reads and writes, and the events of its Spark application.

The datasets follow the data: raw partition -> staging -> snapshot -> model (-> champion),
each a local path named as OpenLineage names files (namespace ``file``, absolute path).

A stage's Spark application emits a START event when its session is up and a COMPLETE
(or FAIL) event when its work ends, with the stage's datasets, when the task that
submitted it passed the OpenLineage parent job in the Spark conf
(``spark.openlineage.parentJobNamespace|parentJobName|parentRunId``, the conf the
OpenLineage Airflow provider writes for Spark jobs) and, in :data:`LINEAGE_CONFIG_ENV`,
the client's configuration (without it, the OpenLineage client's own environment
variables or file). An event that cannot be sent is logged, never failing the job.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.core import names

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from tasks.core import Layout, PipelineSpec

log = logging.getLogger(__name__)

FILE_NAMESPACE = "file"
LINEAGE_CONFIG_ENV = "RETUNE_OPENLINEAGE_CONFIG"
CONF_PREFIX = "spark.openlineage."
PRODUCER = "urn:retune:tasks.spark.lineage"

# What each stage (task id, or Spark job) reads and writes.
STAGE_DATASETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    names.ETL: (("raw",), ("staging",)),
    names.VALIDATE: (("staging",), ()),
    names.MATERIALIZE: (("staging",), ("snapshot",)),
    names.TUNE: (("snapshot",), ()),
    names.EXPORT: (("snapshot",), ("model",)),
    names.PROMOTE: (("model",), ("champion",)),
    "score": (("raw",), ("scores",)),
}


def dataset_path(kind: str, spec: PipelineSpec, layout: Layout) -> str:
    paths: dict[str, Callable[[], str | Path]] = {
        "raw": lambda: spec.source_path(str(layout.root), layout.ds),
        "staging": lambda: layout.staging_dir,
        "snapshot": lambda: layout.dataset_dir,
        "model": lambda: layout.model_dir,
        "champion": lambda: layout.champion_file,
        "scores": lambda: layout.scores_dir,
    }
    return os.path.abspath(paths[kind]())


def stage_datasets(stage: str, spec: PipelineSpec, layout: Layout) -> tuple[list[str], list[str]]:
    """The absolute paths the stage reads and writes."""
    inputs, outputs = STAGE_DATASETS.get(stage, ((), ()))
    return (
        [dataset_path(kind, spec, layout) for kind in inputs],
        [dataset_path(kind, spec, layout) for kind in outputs],
    )


@contextmanager
def application_lineage(
    spark: SparkSession, stage: str, spec: PipelineSpec, ds: str, storage_root: str
) -> Iterator[None]:
    """START, then COMPLETE or FAIL, of the stage's Spark application (see the module)."""
    emitter = ApplicationLineage.from_conf(
        {key: value for key, value in spark.sparkContext.getConf().getAll()},
        stage,
        spec,
        ds,
        storage_root,
        spark.version,
    )
    if emitter is None:
        yield
        return
    emitter.emit("START")
    try:
        yield
    except BaseException as exc:
        emitter.emit("FAIL", error=exc)
        raise
    emitter.emit("COMPLETE")


class ApplicationLineage:
    """The events of one Spark application, child of the Airflow task that submitted it."""

    def __init__(
        self,
        parent: dict[str, str],
        stage: str,
        spec: PipelineSpec,
        layout: Layout,
        spark_version: str,
        client: Any,
    ) -> None:
        from openlineage.client.uuid import generate_new_uuid

        self.parent, self.stage, self.spec, self.layout = parent, stage, spec, layout
        self.spark_version = spark_version
        self.client = client
        self.run_id = str(generate_new_uuid())

    @classmethod
    def from_conf(
        cls,
        conf: dict[str, str],
        stage: str,
        spec: PipelineSpec,
        ds: str,
        storage_root: str,
        spark_version: str,
    ) -> ApplicationLineage | None:
        """None unless the submitting task asked for lineage (the parent job in ``conf``)."""
        from tasks.core import Layout

        parent = {
            key.removeprefix(CONF_PREFIX): value
            for key, value in conf.items()
            if key.startswith(CONF_PREFIX)
        }
        if not {"parentJobNamespace", "parentJobName", "parentRunId"} <= set(parent):
            return None
        try:
            from openlineage.client import OpenLineageClient

            config = os.environ.get(LINEAGE_CONFIG_ENV)
            client = OpenLineageClient(config=json.loads(config)) if config else OpenLineageClient()
        except Exception as exc:  # lineage is a report: the job runs without it
            log.warning("OpenLineage is off for this %s job: %s", stage, exc)
            return None
        layout = Layout(Path(storage_root), spec.name, ds)
        return cls(parent, stage, spec, layout, spark_version, client)

    @property
    def job_name(self) -> str:
        """Stable across days: ``<the task's job name>.spark_application``."""
        return f"{self.parent['parentJobName']}.spark_application"

    def event(self, state: str, error: BaseException | None = None) -> Any:
        from openlineage.client.event_v2 import (
            InputDataset,
            Job,
            OutputDataset,
            Run,
            RunEvent,
            RunState,
        )
        from openlineage.client.facet_v2 import (
            error_message_run,
            job_type_job,
            parent_run,
            processing_engine_run,
        )

        namespace = self.parent["parentJobNamespace"]
        parent = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=self.parent["parentRunId"]),
            job=parent_run.Job(namespace=namespace, name=self.parent["parentJobName"]),
        )
        if "rootParentRunId" in self.parent and "rootParentJobName" in self.parent:
            parent.root = parent_run.Root(
                run=parent_run.RootRun(runId=self.parent["rootParentRunId"]),
                job=parent_run.RootJob(
                    namespace=self.parent.get("rootParentJobNamespace", namespace),
                    name=self.parent["rootParentJobName"],
                ),
            )
        run_facets: dict[str, Any] = {
            "parent": parent,
            "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
                version=self.spark_version, name="spark"
            ),
        }
        if error is not None:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=f"{type(error).__name__}: {error}"[:2000], programmingLanguage="python"
            )
        inputs, outputs = stage_datasets(self.stage, self.spec, self.layout)
        return RunEvent(
            eventType=getattr(RunState, state),
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(runId=self.run_id, facets=run_facets),
            job=Job(
                namespace=namespace,
                name=self.job_name,
                facets={
                    "jobType": job_type_job.JobTypeJobFacet(
                        processingType="BATCH", integration="SPARK", jobType="APPLICATION"
                    )
                },
            ),
            inputs=[InputDataset(FILE_NAMESPACE, path) for path in inputs],
            outputs=[OutputDataset(FILE_NAMESPACE, path) for path in outputs],
            producer=PRODUCER,
        )

    def emit(self, state: str, error: BaseException | None = None) -> None:
        try:
            self.client.emit(self.event(state, error))
        except Exception as exc:  # lineage is a report: the job's outcome stands
            log.warning("could not emit the OpenLineage %s event of %s: %s", state, self.stage, exc)
