"""Pipeline spec: the YAML file that says *what* a pipeline does, with typed validation."""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tasks.core.errors import SpecError
from tasks.core.layout import NAME_PATTERN, SEGMENT_COLUMN, SEGMENT_KEY_PATTERN, UNMATCHED_SEGMENT

TaskType = Literal["regression", "binary", "multiclass"]
ColumnType = Literal["double", "float", "long", "int", "string", "boolean", "timestamp", "date"]
GpuMode = Literal["auto", "on", "off"]

# XGBoost eval_metric names per task type, with the direction that improves them.
METRICS: dict[TaskType, dict[str, Literal["minimize", "maximize"]]] = {
    "regression": {"rmse": "minimize", "mae": "minimize"},
    "binary": {"auc": "maximize", "logloss": "minimize", "error": "minimize"},
    "multiclass": {"mlogloss": "minimize", "merror": "minimize"},
}

COLUMN_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Raw data column names may hold spaces or dashes; Spark quotes them in backticks.
RAW_COLUMN_PATTERN = re.compile(r"[^`\x00-\x1f\x7f]{1,256}")
NUMERIC_TYPES = {"double", "float", "long", "int", "boolean"}
TIME_TYPES = {"timestamp", "date"}
CATEGORICAL_TYPES = {"string", "int", "long"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SourceSpec(_Strict):
    """Where a day's raw data is, and how to read it."""

    path: str = Field(
        description="One ds partition: a folder, a file or a glob, local or any Hadoop URI "
        "(s3a://, hdfs://); placeholders {storage_root} and {ds}."
    )
    format: Literal["csv", "parquet"] = Field("csv", description="The raw files' format.")
    csv_delimiter: str = Field(",", min_length=1, max_length=1, description="csv: one character.")
    csv_multiline: bool = Field(
        True,
        description="Quoted CSV fields may hold line breaks (RFC 4180). False lets Spark split "
        "one large file across tasks, but a row with a quoted line break is then broken.",
    )

    @field_validator("path")
    @classmethod
    def _needs_ds(cls, value: str) -> str:
        if "{ds}" not in value:
            raise ValueError("must contain the placeholder {ds}")
        unknown = set(re.findall(r"{([^}]*)}", value)) - {"ds", "storage_root"}
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)}; use {{ds}}, {{storage_root}}"
            )
        return value


class ColumnSpec(_Strict):
    """One column: its type, and what validation expects of its values."""

    type: ColumnType = Field(description="The Spark type the column is read as.")
    nullable: bool = Field(True, description="False: a null quarantines the row.")
    min: float | None = Field(None, description="Validation: no value below this.")
    max: float | None = Field(None, description="Validation: no value above this.")
    allowed: list[str | int | float | bool] | None = Field(
        None, min_length=1, description="Validation: the only values allowed."
    )
    categorical: bool | None = Field(
        None,
        description="A categorical feature (XGBoost's native support): always for a string "
        "column; true makes an int or long column one (codes, ids).",
    )
    feature: bool = Field(
        True, description="False: read and validated, but not trained on (free text, ids)."
    )

    @property
    def is_categorical(self) -> bool:
        return self.type == "string" or bool(self.categorical)

    @model_validator(mode="after")
    def _categorical_fits(self) -> ColumnSpec:
        if self.categorical is False and self.type == "string":
            raise ValueError(
                "a string column is always categorical; set feature: false to leave it out of "
                "the model"
            )
        if self.categorical and self.type not in CATEGORICAL_TYPES:
            raise ValueError(
                f"categorical: true needs a string, int or long column, not {self.type!r}"
            )
        return self

    @model_validator(mode="after")
    def _bounds(self) -> ColumnSpec:
        if (self.min is not None or self.max is not None) and self.type not in NUMERIC_TYPES:
            raise ValueError(f"min/max need a numeric type, not {self.type!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class SchemaSpec(_Strict):
    """The raw table's columns; XGBoost trains on every column but the key, the target and
    the timestamp (and those marked ``feature: false``)."""

    key: str = Field(description="The column that identifies a row; duplicates are dropped.")
    target: str = Field(description="The column the model predicts; a null one is unlabelled.")
    timestamp: str | None = Field(
        None, description="When given, the latest record per key wins the dedup."
    )
    columns: dict[str, ColumnSpec] = Field(
        min_length=1,
        description="name: a type (double, float, long, int, string, boolean, timestamp, "
        "date), or a column section. Date and timestamp columns are no features: derive "
        "numbers from them (derived_features).",
    )

    @field_validator("columns", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        """``name: double`` is short for ``name: {type: double}``."""
        if isinstance(value, dict):
            return {k: {"type": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("columns")
    @classmethod
    def _quotable_names(cls, columns: dict[str, ColumnSpec]) -> dict[str, ColumnSpec]:
        bad = [name for name in columns if not RAW_COLUMN_PATTERN.fullmatch(name)]
        if bad:
            raise ValueError(
                f"column name(s) {bad}: 1 to 256 characters, no backtick or control character"
            )
        return columns

    @model_validator(mode="after")
    def _roles_declared(self) -> SchemaSpec:
        for role in ("key", "target", "timestamp"):
            column = getattr(self, role)
            if column is not None and column not in self.columns:
                raise ValueError(f"{role} column {column!r} is not declared in schema.columns")
        target = self.columns[self.target]
        if target.type not in NUMERIC_TYPES or target.categorical:
            raise ValueError(f"target column {self.target!r} must be numeric, not categorical")
        if self.timestamp and self.columns[self.timestamp].type not in TIME_TYPES | {"long"}:
            raise ValueError(
                f"timestamp column {self.timestamp!r} must be a timestamp, date or long"
            )
        return self

    @property
    def types(self) -> dict[str, str]:
        return {name: column.type for name, column in self.columns.items()}

    @property
    def features(self) -> list[str]:
        """Numeric and categorical columns other than key, target and timestamp, in order.

        Date and timestamp columns are not features; ``derived_features`` turn them into
        numbers (day of week, hour).
        """
        roles = {self.key, self.target, self.timestamp}
        return [
            name
            for name, column in self.columns.items()
            if name not in roles
            and column.feature
            and (column.type in NUMERIC_TYPES or column.is_categorical)
        ]

    @property
    def categorical_features(self) -> list[str]:
        return [name for name in self.features if self.columns[name].is_categorical]


class SplitSpec(_Strict):
    """How the day's rows are split into train and valid."""

    method: Literal["hash", "time"] = Field(
        "hash", description="hash: by a hash of the key; time: the latest rows are valid."
    )
    valid_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="The valid split's share.")
    time_column: str | None = Field(None, description="time: the column that orders rows.")

    @model_validator(mode="after")
    def _time_needs_column(self) -> SplitSpec:
        if self.method == "time" and not self.time_column:
            raise ValueError("method 'time' needs time_column")
        return self


class CleaningSpec(_Strict):
    """What the ETL job tolerates before it fails the run."""

    max_quarantine_fraction: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="Wrong rows: a value of the wrong type, a null where the spec forbids "
        "one, a NaN or infinite target.",
    )
    max_unlabeled_fraction: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Rows with a null target (unlabelled, such as cancelled flights): left "
        "out of the snapshot and counted apart from wrong rows.",
    )
    max_categories: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="Categories kept per categorical column, the most frequent in the train "
        "split; rarer values, like values never seen in training, are missing.",
    )
    max_duplicate_fraction: float = Field(
        0.01, ge=0.0, le=1.0, description="Rows dropped because their key repeats."
    )
    rows_per_file: int = Field(1_000_000, ge=1_000, description="Target rows per Parquet file.")


class ExtraExpectation(_Strict):
    """A Great Expectations expectation by snake_case name (expect_column_max_to_be_between)."""

    type: str = Field(
        pattern=r"^expect_[a-z0-9_]+$", description="The expectation's snake_case name."
    )
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Its arguments: column, min_value, max_value, ..."
    )
    severity: Literal["error", "warn"] = Field(
        "error", description="error: a failure stops the run; warn: it is reported only."
    )


class ValidationSpec(_Strict):
    """The Great Expectations gate between staging and the snapshot: what stops a day."""

    min_rows: int = Field(100, ge=1, description="Fewer staged rows (train + valid) fail the run.")
    split_tolerance: float = Field(
        0.02, gt=0.0, lt=0.5, description="How far the valid share may stray from the spec's."
    )
    # Lists in YAML and JSON: not strict, which would take tuples only.
    target_mean: tuple[float, float] | None = Field(
        None, strict=False, description="[low, high] of the mean."
    )
    target_stdev: tuple[float, float] | None = Field(
        None, strict=False, description="[low, high] of its stdev."
    )
    expectations: list[ExtraExpectation] = Field(
        default_factory=list,
        description="Extra Great Expectations by name, beside those the schema implies.",
    )

    @model_validator(mode="after")
    def _ordered_bounds(self) -> ValidationSpec:
        for name in ("target_mean", "target_stdev"):
            bounds = getattr(self, name)
            if bounds is not None and bounds[0] > bounds[1]:
                raise ValueError(f"{name}: low ({bounds[0]}) is above high ({bounds[1]})")
        return self


class DriftSpec(_Strict):
    """Today's snapshot against the champion's, feature by feature (materialize)."""

    warn: float | None = Field(
        0.1,
        gt=0.0,
        description="Report a feature whose drift score (population stability index above "
        "its sampling noise) reaches this (empty: never).",
    )
    error: float | None = Field(
        None,
        gt=0.0,
        description="Stop the run before tuning when a feature's drift score reaches this; "
        "nothing is published (empty: never stop).",
    )
    ignore: list[str] = Field(
        default_factory=list,
        strict=False,
        description="Features (or the target) expected to move from day to day, such as "
        "date parts: profiled, never scored.",
    )
    accept: bool = Field(
        False,
        description="Publish even when error is reached (the run parameter accept_drift).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DriftSpec:
        if self.warn is not None and self.error is not None and self.error < self.warn:
            raise ValueError(f"error ({self.error}) is below warn ({self.warn})")
        return self


class AlertsSpec(_Strict):
    """Who hears of a failed run, or of a run done without a new champion."""

    notifier: str = Field(
        "retune.notifiers.RetuneFileNotifier",
        pattern=r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+",
        description="Dotted path of an Airflow notifier class (a BaseNotifier), such as "
        "airflow.providers.slack.notifications.slack.SlackNotifier; the default writes to "
        "the task log and models/<p>/alerts.jsonl.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        strict=False,
        description="Keyword arguments of the notifier (a connection id, a channel); "
        "never a secret: keep those in Airflow connections.",
    )
    on_failure: bool = Field(True, description="Alert when a task fails for good.")
    on_not_promoted: bool = Field(
        True, description="Alert when export ends without promoting the new model."
    )
    export_within_minutes: float | None = Field(
        None,
        gt=0,
        le=7 * 24 * 60,
        description="Alert (an Airflow deadline) when a run has not finished, its model "
        "exported, this many minutes after it was queued; empty: no deadline.",
    )


def _check_range(low: float, high: float, log: bool) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"bounds must be finite numbers, not {low} and {high}")
    if not low < high:
        raise ValueError(f"low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise ValueError("log scale needs low > 0")


class FloatParam(_Strict):
    """A real XGBoost parameter drawn from a range."""

    type: Literal["float"] = Field(description="Names the kind of range.")
    low: float = Field(description="The lowest value (> 0 when log).")
    high: float = Field(description="The highest value, above low.")
    log: bool = Field(False, description="Draw on a log scale.")

    @model_validator(mode="after")
    def _bounds(self) -> FloatParam:
        _check_range(self.low, self.high, self.log)
        return self


class IntParam(_Strict):
    """An integer XGBoost parameter drawn from a range."""

    type: Literal["int"] = Field(description="Names the kind of range.")
    low: int = Field(description="The lowest value (> 0 when log).")
    high: int = Field(description="The highest value, above low.")
    log: bool = Field(False, description="Draw on a log scale.")

    @model_validator(mode="after")
    def _bounds(self) -> IntParam:
        _check_range(self.low, self.high, self.log)
        return self


class CategoricalParam(_Strict):
    """An XGBoost parameter drawn from a list of values."""

    type: Literal["categorical"] = Field(description="Names the kind of parameter.")
    choices: list[str | int | float | bool] = Field(
        min_length=1, max_length=256, description="The distinct values to choose from."
    )

    @field_validator("choices")
    @classmethod
    def _distinct(cls, choices: list[Any]) -> list[Any]:
        seen: list[Any] = []
        for choice in choices:
            # By equality, as Optuna finds a choice: 1, 1.0 and True are one to it.
            if choice in seen:
                raise ValueError(f"choice {choice!r} is listed twice (1, 1.0 and true are equal)")
            seen.append(choice)
        return choices


Param = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]


# Optuna workers of one run (applications x Spark tasks) may not exceed this.
MAX_PARALLELISM = 64


# The best trials a bounded sampler history always keeps: TPE's "good" group is the best
# min(ceil(0.1 n), 25) trials, so it stays whole.
KEEP_BEST_TRIALS = 25


class SamplerSpec(_Strict):
    """The Optuna sampler that proposes each trial's parameters."""

    type: Literal["tpe", "random", "gp"] = Field(
        "tpe", description="Optuna's TPESampler, RandomSampler or GPSampler (needs retune[gp])."
    )
    n_startup_trials: int | None = Field(
        None, ge=0, description="Random trials before the model; default: from budget and workers."
    )
    multivariate: bool = Field(True, description="TPE: model parameters jointly.")
    constant_liar: bool = Field(True, description="TPE: count running trials as bad guesses.")
    history: int | None = Field(
        1000,
        ge=KEEP_BEST_TRIALS,
        description="tpe/gp: the sampler models at most this many finished trials, the best "
        f"{KEEP_BEST_TRIALS} and the most recent; null: all of them (each trial's sampling then "
        "costs more as the study grows).",
    )


class PrunerSpec(_Strict):
    """The Optuna pruner that stops unpromising trials early (rounds fidelity)."""

    type: Literal["median", "successive_halving", "hyperband", "none"] = Field(
        "median", description="Optuna's pruner of that name; none: every trial runs out."
    )
    n_startup_trials: int = Field(5, ge=0, description="median: finished trials before pruning.")
    n_warmup_steps: int | None = Field(
        None,
        ge=0,
        description="median: boosting rounds before pruning; default: half of num_boost_round "
        "(early rounds favour high learning rates, so earlier pruning drops the slow, good ones).",
    )
    min_resource: int = Field(10, ge=1, description="successive_halving/hyperband: rounds.")
    reduction_factor: int = Field(
        3, ge=2, description="successive_halving/hyperband: 1 in this many trials goes on."
    )
    report_every: int | None = Field(
        None,
        ge=1,
        description="Report to the pruner every this many rounds; default: about 20 reports "
        "per trial (each report is a few storage round trips).",
    )

    def report_interval(self, num_boost_round: int) -> int:
        return self.report_every or max(1, num_boost_round // 20)


class FidelitySpec(_Strict):
    """How a trial spends its data: on nested row samples first (``rows``), or on all rows
    with the pruner judging boosting rounds (``rounds``)."""

    type: Literal["rounds", "rows"] = Field(
        "rounds",
        description="rounds: every trial trains on all rows and tuning.pruner judges its "
        "boosting rounds. rows: each trial trains on nested row samples of the train split "
        "first (1/9, 1/3, all, with reduction_factor 3 and 3 rungs), early stopping in each, "
        "and only the best 1/reduction_factor of a rung goes on (asynchronous successive "
        "halving); tuning.pruner is not used. rounds is the default: on the tuning "
        "benchmark it found better models sooner (docs/benchmarks.md).",
    )
    rungs: int = Field(3, ge=1, le=6, description="rows: rungs, the last one all rows.")
    reduction_factor: int = Field(
        3, ge=2, le=10, description="rows: each rung has this many times the rows of the last."
    )
    min_rows: int = Field(
        2000,
        ge=100,
        description="rows: a rung's sample needs at least this many rows; smaller rungs are "
        "skipped (a train split under reduction_factor x min_rows trains on all rows only).",
    )

    def fractions(self, train_rows: int) -> tuple[float, ...]:
        """The row fractions of the rungs below all rows, smallest first, each sample at
        least ``min_rows`` rows (none in ``rounds`` mode)."""
        if self.type != "rows":
            return ()
        eta = self.reduction_factor
        below = (eta**-k for k in range(self.rungs - 1, 0, -1))
        return tuple(f for f in below if f * train_rows >= self.min_rows)

    def step(self, fraction: float) -> int:
        """The pruner's step of a rung: its rows in units of the smallest possible sample."""
        return round(fraction * self.reduction_factor ** (self.rungs - 1))


class TuningSpec(_Strict):
    """The day's Optuna study: its budget, its workers, its sampler and pruner."""

    n_trials: int = Field(
        20, ge=1, le=10_000, description="The study's trial budget, across every worker."
    )
    n_workers: int = Field(2, ge=1, le=MAX_PARALLELISM, description="Spark applications.")
    spark_tasks_per_worker: int = Field(
        1,
        ge=1,
        le=MAX_PARALLELISM,
        description="Spark tasks in each application, each an Optuna worker pulling trials.",
    )
    num_boost_round: int = Field(
        200, ge=1, le=100_000, description="Boosting rounds of a trial at most."
    )
    early_stopping_rounds: int | None = Field(
        20, ge=1, description="Stop a trial's boosting after this many rounds without gain."
    )
    nthread: int = Field(
        1,
        ge=1,
        le=256,
        description="XGBoost threads per Optuna worker (its executor's cores). More threads "
        "make fewer, faster trials; on the tuning benchmark (2 cores, 100k rows) 1 trial of 2 "
        "threads took 2.3x the wall of 2 trials of 1 thread for a slightly better best model.",
    )
    seed: int = Field(
        0, ge=0, description="The base seed of the samplers and of each trial's XGBoost."
    )
    sampler: SamplerSpec = Field(SamplerSpec(), description="The sampler (below).")
    pruner: PrunerSpec = Field(PrunerSpec(), description="The pruner (below).")
    fidelity: FidelitySpec = Field(FidelitySpec(), description="Rounds or rows (below).")
    timeout_minutes: float | None = Field(
        None, gt=0, le=7 * 24 * 60, description="Study deadline: no new trial after it."
    )
    deadline_grace_minutes: float = Field(
        5.0, ge=0, le=24 * 60, description="Running trials are stopped this long after it."
    )
    warm_start: bool = Field(
        True,
        description="Enqueue the previous ds's warm_start_top_k best parameter sets first; "
        "the sampler's model then starts once those and one trial per parallel worker "
        "finished, and (rounds mode) the median pruner waits for its own n_startup_trials "
        "besides them.",
    )
    warm_start_top_k: int = Field(
        5, ge=0, le=100, description="warm_start: how many of the previous ds's best to enqueue."
    )
    fresh_study: bool = Field(
        False,
        description="Archive the day's existing studies (the global one and every "
        "segment's) before tuning, so that a rerun of the day tunes from scratch; usually "
        "set for one run, as the run parameter of the same name.",
    )
    max_trial_retries: int = Field(3, ge=0, le=3, description="Retries of a failed trial.")
    heartbeat_seconds: int = Field(
        10, ge=1, le=600, description="A trial is stale after 3 missed heartbeats."
    )
    storage_outage_seconds: float = Field(
        120.0, ge=1, le=3600, description="How long a storage outage is retried before failing."
    )
    checkpoint_every_rounds: int | None = Field(
        100,
        ge=1,
        description="A running trial saves its model every this many rounds (null: never by "
        "rounds); a stale trial's retry resumes from the last one.",
    )
    checkpoint_every_minutes: float | None = Field(
        10.0, gt=0, le=24 * 60, description="... or when this long passed since the last save."
    )
    trigger: Literal["with_data", "snapshot_asset"] = Field(
        "with_data",
        description="with_data: tuning follows materialize in the pipeline's DAG. "
        "snapshot_asset: the pipeline's DAG ends at materialize, and a second DAG, "
        "retune_<name>_tuning, tunes and exports each time the snapshot Asset is updated "
        "(for ETL that lands at irregular times).",
    )

    @property
    def parallelism(self) -> int:
        return self.n_workers * self.spark_tasks_per_worker

    @property
    def stale_after_seconds(self) -> int:
        return 3 * self.heartbeat_seconds

    @model_validator(mode="after")
    def _parallelism_fits(self) -> TuningSpec:
        if self.parallelism > MAX_PARALLELISM:
            raise ValueError(
                f"n_workers x spark_tasks_per_worker = {self.parallelism} exceeds the cap of "
                f"{MAX_PARALLELISM} parallel Optuna workers"
            )
        if self.parallelism > self.n_trials:
            raise ValueError(
                f"n_workers x spark_tasks_per_worker = {self.parallelism} exceeds n_trials = "
                f"{self.n_trials}: some workers would get no trial (keep parallelism well below "
                "the budget)"
            )
        return self


class MlflowSpec(_Strict):
    """Log each exported model to MLflow (needs retune[mlflow])."""

    tracking_uri: str | None = Field(
        None,
        description="MLflow tracking URI (default: $MLFLOW_TRACKING_URI). Credentials go in "
        "MLflow's environment variables, never here.",
    )
    experiment: str = Field(
        "retune", min_length=1, description="Experiment of the runs (one per export)."
    )
    artifact_location: str | None = Field(
        None,
        description="Artifact location of the experiment when Retune creates it (default: "
        "the tracking server's; a local store would use ./mlruns).",
    )
    registered_model: str | None = Field(
        None,
        min_length=1,
        description="Register each exported model as a version of this model; the "
        "champion's version gets the alias 'champion'.",
    )

    @field_validator("tracking_uri")
    @classmethod
    def no_credentials(cls, uri: str | None) -> str | None:
        from urllib.parse import urlsplit

        if uri is not None and urlsplit(uri).password is not None:
            raise ValueError(
                "the tracking URI holds a password; set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) in the environment instead"
            )
        return uri


class ResourcesSpec(_Strict):
    """What one Optuna worker (and the export task) may use, and how its data is held."""

    worker_memory_gb: float | None = Field(
        None,
        gt=0,
        le=4096,
        description="Memory of one Optuna worker. null: what the snapshot needs (estimated "
        "from its manifest), at most max_worker_memory_gb.",
    )
    max_worker_memory_gb: float = Field(
        32.0,
        gt=0,
        le=4096,
        description="The most memory one worker may ask for (its executor gets 512 MiB more "
        "for the JVM); a snapshot that does not fit even in external memory fails before "
        "submit.",
    )
    external_memory: Literal["auto", "never", "always"] = Field(
        "auto",
        description="auto: XGBoost's external-memory matrix (pages on local disk) when the "
        "snapshot does not fit the worker's memory in memory.",
    )
    external_memory_dir: str | None = Field(
        None, description="Local disk for the external-memory pages (default: the temp dir)."
    )
    batch_rows: int | None = Field(
        None,
        ge=1_000,
        le=10_000_000,
        description=(
            "Rows per batch read from the snapshot (default: 20,000 in memory, pages of "
            "40 MiB of float32 in external memory)."
        ),
    )

    @model_validator(mode="after")
    def _budget_allowed(self) -> ResourcesSpec:
        if self.worker_memory_gb is not None and self.worker_memory_gb > self.max_worker_memory_gb:
            raise ValueError(
                f"worker_memory_gb {self.worker_memory_gb} exceeds max_worker_memory_gb "
                f"{self.max_worker_memory_gb}"
            )
        return self


class ApprovalSpec(_Strict):
    """When a person approves a promotion in the Airflow UI before ``champion.json`` moves."""

    when: Literal["never", "always", "conditional"] = Field(
        "never",
        description="never: promote on the metric alone; always: every promotion waits for "
        "an approval; conditional: only when gain_below or drift_above says so.",
    )
    gain_below: float | None = Field(
        None,
        ge=0.0,
        description="conditional: ask when the new model beats the champion by less than "
        "this (in the metric's units), or when there is no champion to compare it with.",
    )
    drift_above: float | None = Field(
        None,
        gt=0.0,
        description="conditional: ask when a feature's drift score from the champion's "
        "snapshot is above this.",
    )
    timeout_minutes: float = Field(
        720,
        gt=0,
        le=7 * 24 * 60,
        description="How long the approval waits (the run waits with it); then on_timeout.",
    )
    on_timeout: Literal["reject", "approve"] = Field(
        "reject",
        description="The decision taken when nobody answers in time (reject: the champion stays).",
    )

    @model_validator(mode="after")
    def _conditions(self) -> ApprovalSpec:
        given = [n for n in ("gain_below", "drift_above") if getattr(self, n) is not None]
        if self.when == "conditional" and not given:
            raise ValueError("when: conditional needs gain_below, drift_above or both")
        if self.when != "conditional" and given:
            raise ValueError(f"{', '.join(given)} apply to when: conditional only")
        return self


class ExportSpec(_Strict):
    """The best trial retrained, and whether it replaces the champion."""

    min_improvement: float = Field(
        0.0,
        ge=0.0,
        description="Promote a new model only if it beats the champion, by at least this "
        "much (in the metric's units, both scored on the new valid split).",
    )
    retrain_on: Literal["train", "train_valid"] = Field(
        "train",
        description="train_valid: ship a model refit on train + valid with the best "
        "trial's rounds; its metrics and the champion comparison come from the fit on "
        "train alone, since the valid split is in the shipped model's training data.",
    )
    mlflow: MlflowSpec | None = Field(
        None, description="Log each export to MLflow (skipped when absent)."
    )
    approval: ApprovalSpec = Field(
        default_factory=ApprovalSpec,
        description="A person's approval before a promotion (never, by default).",
    )


# Column types a segment column may have: each distinct value names a segment.
SEGMENT_COLUMN_TYPES = {"string", "int", "long", "boolean"}


class SegmentFilter(_Strict):
    """A segment named by a filter over the rows, instead of by a column's values."""

    name: str = Field(description="The segment's name: it names its study and model folder.")
    where: str = Field(
        min_length=1, description="A per-row Spark SQL condition over schema columns."
    )

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not SEGMENT_KEY_PATTERN.fullmatch(value):
            raise ValueError(
                f"{value!r}: 1 to 48 letters, digits, '_' or '-', starting with a letter or digit"
            )
        if value == UNMATCHED_SEGMENT:
            raise ValueError(f"{value!r} is reserved for the rows no filter matches")
        return value


class SegmentsSpec(_Strict):
    """One tuned model per segment of the table, and a global model for the rest."""

    column: str | None = Field(
        None, description="Each distinct value of this schema column is a segment."
    )
    filters: list[SegmentFilter] | None = Field(
        None,
        min_length=1,
        description="Named segments, each a Spark SQL condition; a row may match one filter "
        "at most. Rows no filter matches are served by the global model.",
    )
    min_rows: int = Field(
        500,
        ge=1,
        description="Train rows a segment needs for a model of its own; smaller segments, and "
        "segments that appear later, are served by the global model.",
    )
    max_segments: int = Field(
        200, ge=1, le=10_000, description="More segments in a day's data fail the ETL job."
    )
    n_trials: int = Field(10, ge=1, le=10_000, description="Trial budget of each segment.")
    max_total_trials: int | None = Field(
        None,
        ge=1,
        description="Cap on all trials of a run (the global model's tuning.n_trials first, "
        "then the segments', shared evenly, larger segments first).",
    )
    global_feature: bool | None = Field(
        None,
        description="column segments: whether the segment column is a feature of the global "
        "model (default true). A segment's own model never has it: it is constant there.",
    )
    only: list[str] | None = Field(
        None,
        min_length=1,
        description="Tune and export these segments only (a manual run's parameter); the "
        "others keep their champions.",
    )
    expectations: list[ExtraExpectation] = Field(
        default_factory=list,
        description="Great Expectations by name, checked on each segment's rows apart.",
    )

    @model_validator(mode="after")
    def _one_way(self) -> SegmentsSpec:
        if (self.column is None) == (self.filters is None):
            raise ValueError("give either column or filters")
        if self.filters is not None:
            if self.global_feature is not None:
                raise ValueError("global_feature applies to column segments only")
            names = [f.name for f in self.filters]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"filter name(s) {twice} are given twice")
            if len(names) > self.max_segments:
                raise ValueError(f"{len(names)} filters exceed max_segments = {self.max_segments}")
            if self.only is not None:
                unknown = sorted(set(self.only) - set(names))
                if unknown:
                    raise ValueError(f"only: unknown segment(s) {unknown}; known: {names}")
        return self

    @property
    def names(self) -> list[str] | None:
        """The segments' names when filters fix them; column segments come from the data."""
        return None if self.filters is None else [f.name for f in self.filters]


class PipelineSpec(_Strict):
    name: str = Field(
        description="Lower case; names the DAG (retune_<name>), its studies and folders."
    )
    description: str = Field("", description="The DAG's description in Airflow.")
    schedule: str | None = Field(
        "@daily",
        description="Cron or preset; the run at midnight works on the day just ended (ds). "
        "Empty: only what is triggered or backfilled runs.",
    )
    start_date: date = Field(  # a YAML date, or its ISO string in JSON
        strict=False, description="The first ds the DAG schedules or may backfill."
    )
    end_date: date | None = Field(
        None,
        strict=False,
        description="No scheduled run after this day (a pipeline over historical data); "
        "backfills may still run any day from start_date to it.",
    )
    source: SourceSpec = Field(description="Where a day's raw data is (below).")
    data_schema: SchemaSpec = Field(alias="schema", description="The raw table (below).")
    task: TaskType = Field(
        description="multiclass needs the target's allowed labels, integers from 0."
    )
    metric: str = Field(
        description="regression: rmse, mae; binary: auc, logloss, error; "
        "multiclass: mlogloss, merror."
    )
    direction: Literal["minimize", "maximize"] | None = Field(
        None, description="Inferred from the metric; a contradicting one is an error."
    )
    derived_features: dict[str, str] = Field(
        default_factory=dict,
        description="name: a per-row Spark SQL expression over schema columns (a number).",
    )
    split: SplitSpec = Field(SplitSpec(), description="Train and valid (below).")
    cleaning: CleaningSpec = Field(CleaningSpec(), description="What ETL tolerates (below).")
    validation: ValidationSpec = Field(ValidationSpec(), description="The data gate (below).")
    drift: DriftSpec = Field(DriftSpec(), description="Against the champion's data (below).")
    alerts: AlertsSpec = Field(AlertsSpec(), description="Who hears of what (below).")
    search_space: dict[str, Param] = Field(
        min_length=1,
        description="XGBoost booster parameter name: its range or choices (below). Never "
        "one Retune sets itself (objective, eval_metric, device, nthread, seed).",
    )
    tuning: TuningSpec = Field(TuningSpec(), description="The study (below).")
    export: ExportSpec = Field(ExportSpec(), description="The champion decision (below).")
    resources: ResourcesSpec = Field(ResourcesSpec(), description="Memory (below).")
    segments: SegmentsSpec | None = Field(
        None, description="A tuned model per segment (below); empty: one model."
    )
    gpu: GpuMode = Field(
        "auto",
        description="auto: a GPU when one is there; on: require one; off: CPU only. "
        "YAML's unquoted on/off mean on/off here.",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)

    @field_validator("gpu", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: Any) -> Any:
        """YAML 1.1 reads an unquoted ``off``/``on`` (and ``no``/``yes``) as a boolean."""
        if isinstance(value, bool):
            return "on" if value else "off"
        return value

    @model_validator(mode="after")
    def _dates_ordered(self) -> PipelineSpec:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        return self

    @model_validator(mode="after")
    def _classes_declared(self) -> PipelineSpec:
        if self.task != "multiclass":
            return self
        target = self.data_schema.target
        allowed = self.data_schema.columns[target].allowed
        labels = allowed if allowed is not None else []
        if not labels or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 and v == int(v)
            for v in labels
        ):
            raise ValueError(
                f"multiclass needs the classes: schema.columns.{target}.allowed listing the "
                "labels, integers from 0 (every day's model then has the same classes)"
            )
        return self

    @property
    def num_class(self) -> int:
        """Multiclass: the number of classes, from the target's allowed labels."""
        allowed = self.data_schema.columns[self.data_schema.target].allowed or []
        return int(max(float(v) for v in allowed)) + 1

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError(
                "must be lower-case letters, digits and '_', starting with a letter "
                "(it names DAGs, studies and storage folders)"
            )
        return value

    @field_validator("search_space")
    @classmethod
    def _tunable_names(cls, space: dict[str, Any]) -> dict[str, Any]:
        from tasks.core.xgb_params import unknown_reason

        problems = [reason for name in space if (reason := unknown_reason(name))]
        if problems:
            raise ValueError("; ".join(problems))
        return space

    @model_validator(mode="after")
    def _derived_features_parse(self) -> PipelineSpec:
        from tasks.core.expressions import expression_problem

        columns = self.data_schema.columns
        problems = []
        for name, expression in self.derived_features.items():
            if not COLUMN_PATTERN.fullmatch(name):
                problems.append(f"{name!r}: a name of letters, digits and '_'")
            elif name in columns:
                problems.append(f"{name!r}: already a column of schema.columns")
            elif (problem := expression_problem(expression, columns)) is not None:
                problems.append(f"{name!r}: {expression!r} {problem}")
        if problems:
            raise ValueError("derived_features: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _approval_unsegmented(self) -> PipelineSpec:
        if self.segments is not None and self.export.approval.when != "never":
            raise ValueError(
                "export.approval: a segmented pipeline promotes each segment's champion on "
                "its own, without an approval step; use when: never"
            )
        return self

    @model_validator(mode="after")
    def _drift_names_known(self) -> PipelineSpec:
        known = {*self.model_features, self.data_schema.target}
        unknown = [name for name in self.drift.ignore if name not in known]
        if unknown:
            raise ValueError(
                f"drift.ignore: {unknown} are neither features nor the target; "
                f"known: {sorted(known)}"
            )
        return self

    @model_validator(mode="after")
    def _split_column_declared(self) -> PipelineSpec:
        column = self.split.time_column
        if column is None:
            return self
        declared = self.data_schema.columns.get(column)
        if declared is None:
            raise ValueError(f"split.time_column {column!r} is not declared in schema.columns")
        if declared.type not in TIME_TYPES | NUMERIC_TYPES - {"boolean"}:
            raise ValueError(f"split.time_column {column!r} must be a time or a number")
        return self

    @property
    def model_features(self) -> list[str]:
        """What XGBoost trains on: the schema's features, then the derived ones (the global
        model's, when the pipeline has segments)."""
        features = [*self.data_schema.features, *self.derived_features]
        segments = self.segments
        if segments is not None and segments.column and segments.global_feature is False:
            features.remove(segments.column)
        return features

    @property
    def segment_column(self) -> str | None:
        """The column whose values are the segments (None without column segments)."""
        return self.segments.column if self.segments is not None else None

    @model_validator(mode="after")
    def _segments_fit_schema(self) -> PipelineSpec:
        from tasks.core.expressions import expression_problem

        segments = self.segments
        columns = self.data_schema.columns
        if SEGMENT_COLUMN in columns or SEGMENT_COLUMN in self.derived_features:
            raise ValueError(f"{SEGMENT_COLUMN!r} is reserved for the segment of each row")
        if segments is None:
            return self
        if segments.column is not None:
            column = columns.get(segments.column)
            if column is None:
                raise ValueError(
                    f"segments.column {segments.column!r} is not declared in schema.columns"
                )
            schema = self.data_schema
            if segments.column in (schema.key, schema.target, schema.timestamp):
                raise ValueError(
                    f"segments.column {segments.column!r} is the key, target or timestamp"
                )
            if column.type not in SEGMENT_COLUMN_TYPES:
                raise ValueError(
                    f"segments.column {segments.column!r} must be a string, int, long or "
                    f"boolean column, not {column.type!r}"
                )
            if segments.global_feature and segments.column not in schema.features:
                raise ValueError(
                    f"segments.global_feature: {segments.column!r} is not a feature (a "
                    "string, categorical int or number with feature: true)"
                )
            return self
        problems = [
            f"[{i}] {f.name!r}: {f.where!r} {problem}"
            for i, f in enumerate(segments.filters or [])
            if (problem := expression_problem(f.where, columns)) is not None
        ]
        if problems:
            raise ValueError("segments.filters: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _metric_fits_task(self) -> PipelineSpec:
        allowed = METRICS[self.task]
        if self.metric not in allowed:
            raise ValueError(
                f"metric {self.metric!r} does not fit task {self.task!r}; choose one of "
                f"{sorted(allowed)}"
            )
        if self.direction is not None and self.direction != allowed[self.metric]:
            raise ValueError(
                f"direction {self.direction!r} contradicts metric {self.metric!r}, "
                f"which is to be {allowed[self.metric]}d"
            )
        return self

    @property
    def study_direction(self) -> Literal["minimize", "maximize"]:
        return self.direction or METRICS[self.task][self.metric]

    def source_path(self, storage_root: str, ds: str) -> str:
        return self.source.path.format(storage_root=storage_root, ds=ds)


def _field_path(location: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("float", "int", "categorical") and parts:
            continue  # the discriminated union's tag adds nothing for the reader
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "<root>"


def parse_spec(data: Any, source: str = "<spec>") -> PipelineSpec:
    """Validate already-loaded spec data; errors name ``source`` and every bad field."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a spec must be a mapping, got {type(data).__name__}")
    try:
        return PipelineSpec.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_field_path(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise SpecError(f"{source}: invalid spec\n  " + "\n  ".join(problems)) from None


def load_spec(path: str | Path) -> PipelineSpec:
    """Read and validate one spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read spec ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({exc})") from None
    return parse_spec(data, source=str(path))
