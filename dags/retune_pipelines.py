"""Airflow DAG file: one Retune DAG per pipeline spec in dags/specs/ (or $RETUNE_SPEC_DIR).

Airflow only parses files that mention both "airflow" and "dag" (safe mode); this one does.
"""

from __future__ import annotations

from pathlib import Path

from retune.dag_factory import build_dags

globals().update(build_dags(Path(__file__).with_name("specs")))
