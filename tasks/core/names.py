"""The names Retune's parts agree on: the DAGs' task ids, the DAG ids of a pipeline, and
the states of an approval. Airflow, the Spark jobs and the documents use these, never a
literal of their own."""

from __future__ import annotations

# Task ids of a pipeline's DAG, in run order; each Spark stage's application is named
# after its task too.
ETL = "etl"
VALIDATE = "validate"
MATERIALIZE = "materialize"
CREATE_STUDY = "create_study"
TUNE = "tune"
EXPORT = "export"
APPROVE_PROMOTION = "approve_promotion"
PROMOTE = "promote"
KEEP_CHAMPION = "keep_champion"
SPEC_ERROR = "spec_error"

# An approval's states (the card's ``approval.state``).
PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
TIMED_OUT = "timed_out"
STALE = "champion_changed"


def dag_id(pipeline: str) -> str:
    """The pipeline's scheduled DAG: etl -> ... -> export (or -> materialize)."""
    return f"retune_{pipeline}"


def tuning_dag_id(pipeline: str) -> str:
    """The tuning DAG of a pipeline whose tuning runs on the snapshot Asset."""
    return f"retune_{pipeline}_tuning"


def snapshot_asset_name(pipeline: str) -> str:
    return f"retune_{pipeline}_snapshot"


def invalid_spec_dag_id(spec_file_stem: str) -> str:
    return f"retune_invalid_spec_{spec_file_stem}"
