"""Where each stage reads and writes under the storage root: every file and folder name.

No other module names a storage file; each asks :class:`Layout` for its path, so the
whole tree of a run can be read here (see docs/ARCHITECTURE.md, "The data walk").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tasks.core.errors import RetuneError

# Pipeline names become folder names, study names and DAG ids.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")  # fullmatch: "$" would let "\n" in
SPLITS = ("train", "valid")
# A segmented snapshot holds each segment's rows in split/<SEGMENT_COLUMN>=<key>/ (Hive
# style, so Spark and pyarrow read a whole split as one table). A key names the segment's
# study and model folder too.
SEGMENT_COLUMN = "retune_segment"
SEGMENT_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,47}")
# Rows that no named filter matches: the global model trains on them, no segment does.
UNMATCHED_SEGMENT = "unsegmented"
# models/<p>/ds=<ds>/segment=<key>/: a segment's model; models/<p>/segment=<key>/: its champion
SEGMENT_DIR_PREFIX = "segment="

# The areas under the root, each with one folder per pipeline, then one per ds.
STAGING = "staging"
REPORTS = "reports"
DATASETS = "datasets"
MODELS = "models"
RUNS = "runs"
SCORES = "scores"
CHECKPOINTS = "checkpoints"

# staging/<p>/ds=<ds>/: what ETL wrote and validation passed
ETL_SUMMARY = "etl_summary.json"
GATE_FILE = "validation_gate.json"
# reports/<p>/ds=<ds>/: what a person reads about the data
QUARANTINE_DIR = "quarantine"
RESULT_FILE = "validation_result.json"
DOCS_DIR = "data_docs"
DOCS_INDEX = "index.html"
TIMINGS_DIR = "timings"
# Today's snapshot against the champion's, per feature (written by materialize)
DRIFT_FILE = "drift.json"
# datasets/<p>/ds=<ds>/: the published snapshot
MANIFEST = "manifest.json"
# Written last into a published snapshot: without it, the folder is not a snapshot.
SUCCESS_MARKER = "_SUCCESS"
# models/<p>/ds=<ds>/: the exported model
MODEL_FILE = "model.ubj"
CARD_FILE = "model_card.json"
# The feature preparation the model was trained with (vocabularies; see tasks.model.features)
FEATURES_FILE = "features.json"
MLFLOW_FILE = "mlflow.json"
REPORT_FILE = "report.html"
REPORT_PARTS_FILE = "report_parts.json"
PLOTS_DIR = "plots"
# models/<p>/ds=<ds>/: a segmented run's index of its segments' models, and its page
SEGMENTS_INDEX = "segments.json"
SEGMENTS_REPORT = "segments.html"
# models/<p>/: the champion pointer, the promoted models and the lock of both
CHAMPION_FILE = "champion.json"
CHAMPIONS_DIR = "champions"
CHAMPION_LOCK = ".champion.lock"
# models/<p>/: one JSON line per export across days, and the page that charts them
HISTORY_FILE = "history.jsonl"
ALERTS_FILE = "alerts.jsonl"
PIPELINE_INDEX = "index.html"
# scores/<p>/ds=<ds>/: a model's predictions for the day's rows
SCORED_ROWS = "predictions"
SCORES_SUMMARY = "summary.json"
# checkpoints/<p>/ds=<ds>/trial-<n>/: a running trial's last saved model (never published)
CHECKPOINT_MODEL = "model.ubj"
CHECKPOINT_STATE = "state.json"
# runs/<p>/ds=<ds>/<run>/: the run's resolved spec
RUN_SPEC_FILE = "spec.json"
JOURNAL_FILE = Path("optuna") / "journal.log"

RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def check_ds(ds: str) -> str:
    """Return ``ds`` if it is an ISO date (YYYY-MM-DD); it names folders and studies."""
    try:
        parsed = date.fromisoformat(ds)
    except (TypeError, ValueError):
        raise RetuneError(f"ds {ds!r} is not a date of the form YYYY-MM-DD") from None
    if parsed.isoformat() != ds:
        raise RetuneError(f"ds {ds!r} is not a date of the form YYYY-MM-DD")
    return ds


def run_folder_name(run_id: str) -> str:
    """A folder name for an Airflow run id (``manual__2026-11-21T10:00:00+00:00``).

    Characters a path or a URL would trip on become ``_``; when any did, a short hash of
    the id keeps two ids that differ only there apart.
    """
    if not run_id or run_id in (".", ".."):
        raise RetuneError(f"run id {run_id!r} cannot name a folder")
    safe = RUN_ID_UNSAFE.sub("_", run_id)
    if safe == run_id:
        return safe
    return f"{safe[:150]}.{hashlib.sha256(run_id.encode()).hexdigest()[:8]}"


def pipeline_dir(root: str | Path, area: str, pipeline: str) -> Path:
    """``<root>/<area>/<pipeline>``: all days of one pipeline in one area."""
    return Path(root) / area / pipeline


def alerts_file(root: str | Path, pipeline: str) -> Path:
    """The pipeline's alerts, one JSON line each (the default notifier's)."""
    return pipeline_dir(root, MODELS, pipeline) / ALERTS_FILE


def champion_pointer(root: str | Path, pipeline: str) -> Path:
    """The pipeline's champion pointer (one for all ds)."""
    return pipeline_dir(root, MODELS, pipeline) / CHAMPION_FILE


@dataclass(frozen=True)
class Layout:
    """Paths of one pipeline run (pipeline, ds) under ``root``."""

    root: Path
    pipeline: str
    ds: str
    # One segment's model, champion and checkpoints; the data stay the whole snapshot's.
    segment: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())
        # All name folders under the root: none may hold a path of its own.
        if not (isinstance(self.pipeline, str) and NAME_PATTERN.fullmatch(self.pipeline)):
            raise RetuneError(
                f"pipeline name {self.pipeline!r} is not lower-case letters, digits and '_'"
            )
        check_ds(self.ds)
        if self.segment is not None and not (
            isinstance(self.segment, str) and SEGMENT_KEY_PATTERN.fullmatch(self.segment)
        ):
            raise RetuneError(f"segment {self.segment!r} is not a segment key")

    def for_segment(self, segment: str | None) -> Layout:
        """The paths of one segment's model (``None``: the pipeline's global model)."""
        return Layout(self.root, self.pipeline, self.ds, segment)

    @property
    def whole(self) -> Layout:
        """The run's layout without a segment: its data, reports and run-level index."""
        return self.for_segment(None)

    def _day(self, area: str) -> Path:
        return pipeline_dir(self.root, area, self.pipeline) / f"ds={self.ds}"

    def _segment_day(self, area: str) -> Path:
        day = self._day(area)
        return day if self.segment is None else day / f"{SEGMENT_DIR_PREFIX}{self.segment}"

    # staging: ETL's output, checked by validation, copied by materialize
    @property
    def staging_dir(self) -> Path:
        return self._day(STAGING)

    @property
    def etl_summary_file(self) -> Path:
        return self.staging_dir / ETL_SUMMARY

    @property
    def gate_file(self) -> Path:
        """What validation passed (its content hash); materialize publishes nothing else."""
        return self.staging_dir / GATE_FILE

    # reports: what a person reads about the run's data
    @property
    def reports_dir(self) -> Path:
        """Validation results, Data Docs, quarantined rows and stage timings of the run."""
        return self._day(REPORTS)

    @property
    def quarantine_dir(self) -> Path:
        return self.reports_dir / QUARANTINE_DIR

    @property
    def validation_result_file(self) -> Path:
        return self.reports_dir / RESULT_FILE

    @property
    def data_docs_dir(self) -> Path:
        return self.reports_dir / DOCS_DIR

    @property
    def data_docs_index(self) -> Path:
        return self.data_docs_dir / DOCS_INDEX

    @property
    def drift_file(self) -> Path:
        return self.reports_dir / DRIFT_FILE

    @property
    def timings_dir(self) -> Path:
        return self.reports_dir / TIMINGS_DIR

    # datasets: the published snapshot
    @property
    def dataset_dir(self) -> Path:
        return self._day(DATASETS)

    @property
    def manifest_file(self) -> Path:
        return self.dataset_dir / MANIFEST

    # checkpoints: the models of running trials, so a retry resumes (never published)
    @property
    def checkpoints_dir(self) -> Path:
        return self._segment_day(CHECKPOINTS)

    # models: the exported model of the day, and the pipeline's champion
    @property
    def model_dir(self) -> Path:
        return self._segment_day(MODELS)

    @property
    def segments_index_file(self) -> Path:
        """The run's index of segments: each one's model, metric, rows, champion."""
        return self._day(MODELS) / SEGMENTS_INDEX

    @property
    def segments_report_file(self) -> Path:
        """The run-level page ranking the segments."""
        return self._day(MODELS) / SEGMENTS_REPORT

    @property
    def model_file(self) -> Path:
        return self.model_dir / MODEL_FILE

    @property
    def card_file(self) -> Path:
        return self.model_dir / CARD_FILE

    @property
    def features_file(self) -> Path:
        return self.model_dir / FEATURES_FILE

    @property
    def mlflow_file(self) -> Path:
        return self.model_dir / MLFLOW_FILE

    @property
    def report_file(self) -> Path:
        return self.model_dir / REPORT_FILE

    @property
    def report_parts_file(self) -> Path:
        return self.model_dir / REPORT_PARTS_FILE

    @property
    def plots_dir(self) -> Path:
        return self.model_dir / PLOTS_DIR

    @property
    def pipeline_models_dir(self) -> Path:
        """The champion's folder: the pipeline's, or a segment's own below it."""
        models = pipeline_dir(self.root, MODELS, self.pipeline)
        return models if self.segment is None else models / f"{SEGMENT_DIR_PREFIX}{self.segment}"

    @property
    def champion_file(self) -> Path:
        """The pipeline's champion pointer (one for all ds)."""
        return self.pipeline_models_dir / CHAMPION_FILE

    @property
    def champion_lock_file(self) -> Path:
        return self.pipeline_models_dir / CHAMPION_LOCK

    @property
    def history_file(self) -> Path:
        """The pipeline's runs across days, one JSON line per export (global layout)."""
        return pipeline_dir(self.root, MODELS, self.pipeline) / HISTORY_FILE

    @property
    def pipeline_index_file(self) -> Path:
        """The pipeline's page: its history charted, with a link to each day's report."""
        return pipeline_dir(self.root, MODELS, self.pipeline) / PIPELINE_INDEX

    @property
    def champions_dir(self) -> Path:
        """Promoted models, each in a folder of its own that the pointer names."""
        return self.pipeline_models_dir / CHAMPIONS_DIR

    # runs: what belongs to one Airflow run of the day
    def run_dir(self, run_id: str) -> Path:
        return self._day(RUNS) / run_folder_name(run_id)

    # scores: a model's predictions for a ds partition (tasks/jobs/score_job.py)
    @property
    def scores_dir(self) -> Path:
        return self._day(SCORES)

    @property
    def scored_rows_dir(self) -> Path:
        return self.scores_dir / SCORED_ROWS

    @property
    def scores_summary_file(self) -> Path:
        return self.scores_dir / SCORES_SUMMARY

    def run_spec_file(self, run_id: str) -> Path:
        """The run's resolved spec (the YAML with the run's Params), read by every stage."""
        return self.run_dir(run_id) / RUN_SPEC_FILE


def journal_path(root: str | Path) -> Path:
    """The embedded Optuna journal (used when no MySQL is configured)."""
    return Path(root).resolve() / JOURNAL_FILE
