"""The files stages hand to each other, as versioned Pydantic models.

Each document carries ``"format": "<name>/<version>"`` (as the run spec does with
``retune-run-spec/1``). :meth:`Document.read` refuses, naming the file, its format and
the field, a document that is missing, torn, from a newer Retune or malformed; a file
written before documents had a format is read through the model's :meth:`Document.legacy`
(or refused with how to regenerate it). :meth:`Document.write` writes the whole file or
nothing (written aside, then renamed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tasks.core.atomic import write_text_atomically
from tasks.core.errors import RetuneError


class DocumentError(RetuneError):
    """A stage document that cannot be read: missing, torn, newer or malformed."""


def _problems(exc: ValidationError) -> str:
    shown = []
    for error in exc.errors()[:5]:
        field = ".".join(str(part) for part in error["loc"]) or "(the document)"
        shown.append(f"{field}: {error['msg']}")
    more = len(exc.errors()) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


class Document(BaseModel):
    """A stage document. Subclasses set ``NAME`` and ``VERSION`` and declare their fields."""

    NAME: ClassVar[str]
    VERSION: ClassVar[int] = 1
    # What to do about a file of this kind from before formats, when legacy() refuses it.
    REGENERATE: ClassVar[str] = "run the day again to write it anew"
    # A file of this kind from before formats had this version's fields: read it as it is.
    SAME_FIELDS_BEFORE_FORMATS: ClassVar[bool] = False

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str = ""

    @model_validator(mode="before")
    @classmethod
    def _stamp_format(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("format"):
            return {**data, "format": cls.format_string()}
        return data

    @classmethod
    def format_string(cls) -> str:
        return f"{cls.NAME}/{cls.VERSION}"

    @classmethod
    def legacy(cls, data: dict[str, Any]) -> dict[str, Any] | None:
        """A document written before formats, as this version's fields; None: unreadable."""
        return data if cls.SAME_FIELDS_BEFORE_FORMATS else None

    @classmethod
    def read(cls, path: Path) -> Self:
        what = f"{path} ({cls.format_string()})"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DocumentError(f"{what}: missing") from None
        except OSError as exc:
            raise DocumentError(f"{what}: cannot be read ({exc.strerror})") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DocumentError(f"{what}: not whole JSON (torn or edited? {exc})") from None
        if not isinstance(data, dict):
            raise DocumentError(f"{what}: not a JSON object")
        return cls.parse(data, what)

    @classmethod
    def parse(cls, data: dict[str, Any], what: str) -> Self:
        """``data`` as this document; errors begin with ``what`` (the file, the format)."""
        found = data.get("format")
        if found is None:
            upgraded = cls.legacy(data)
            if upgraded is None:
                raise DocumentError(
                    f"{what}: written before documents had a format, and not readable as "
                    f"one; {cls.REGENERATE}"
                )
            data = upgraded
        elif not isinstance(found, str) or found.partition("/")[0] != cls.NAME:
            raise DocumentError(f"{what}: holds format {found!r}, not {cls.NAME}")
        else:
            version = found.partition("/")[2]
            if not version.isdigit():
                raise DocumentError(f"{what}: format {found!r} has no version number")
            if int(version) > cls.VERSION:
                raise DocumentError(
                    f"{what}: written by a newer Retune (format {found}); this one reads up "
                    f"to {cls.format_string()}: upgrade Retune to read it"
                )
        try:
            return cls.model_validate({**data, "format": cls.format_string()})
        except ValidationError as exc:
            raise DocumentError(f"{what}: malformed: {_problems(exc)}") from None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def write(self, path: Path) -> Path:
        write_text_atomically(path, self.to_json())
        return path


class ReportParts(Document):
    """What a run's report shows of its study, kept beside the page so that the page can be
    rendered again from the card (an approval's answer) without the study."""

    NAME: ClassVar[str] = "retune-report-parts"
    REGENERATE: ClassVar[str] = "run the day again to write its report anew"

    # Title -> the plotly figure as its JSON (plotly.io.to_json), in page order.
    figures: dict[str, dict[str, Any]]
    # Row-sample fidelity: rung -> how many trials trained and stopped there.
    rungs: dict[str, str] = {}


class Part(BaseModel):
    """A block inside a document (no format of its own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Decision(Part):
    """Champion/challenger: whether the new model replaces the champion, and why (the
    card's ``champion`` block)."""

    promoted: bool
    reason: str
    challenger_value: float
    champion_value: float | None = None
    champion_ds: str | None = None
    min_improvement: float = 0.0
    # The champion is this run's own model: its export ran again (a retry, or cleared).
    already_champion: bool = False


class Approval(Part):
    """A promotion left to a person (``export.approval``): asked, then settled."""

    state: str
    why: str
    comparison: str
    gain: float | None = None
    compared_with: str | None = None  # the champion's model file when it was asked
    timeout_minutes: float
    on_timeout: str
    asked_at: str
    outcome: str | None = None
    answered_by: str | None = None
    answered_at: str | None = None
    timed_out: bool = False


class StudyRef(Part):
    name: str
    storage: str
    trial_number: int


class MetricValue(Part):
    name: str
    value: float
    split: str = "valid"


class Seeds(Part):
    base: int
    trial: int
    worker: str | None = None  # the label of the worker that ran the best trial


class ValidationSummary(Part):
    """What validation found, as the manifest and the model card keep it."""

    success: bool
    evaluated: int
    warnings: int = 0
    warned: list[str] = []
    result_path: str | None = None
    data_docs: str | None = None


class DriftReference(Part):
    """The champion snapshot a day's drift was scored against, or why there was none."""

    ds: str | None = None
    card: str | None = None
    reason: str | None = None


class MovedBin(Part):
    bin: str
    reference: float
    today: float


class ColumnDrift(Part):
    """One column's drift: its score (PSI less its sampling noise) and what moved."""

    kind: str  # numeric | categorical
    role: str  # feature | target
    score: float
    psi: float
    noise: float
    level: str  # ok | warn | error
    rows: list[int]  # the reference's, today's
    null_share: list[float]  # the reference's, today's
    most_moved_bin: MovedBin
    mean: list[float | None] | None = None  # a numeric column's: the reference's, today's


class DriftSummary(Part):
    """What the model card keeps of its snapshot's drift: the level, the features named,
    the top columns by score."""

    level: str
    reference_ds: str | None = None
    reason: str | None = None
    errors: list[str] = []
    warned: list[str] = []
    accepted: bool = False
    top: dict[str, ColumnDrift] = {}


class CardData(Part):
    """What the model was trained on: the snapshot's hash and rows, its validation gate,
    its profile (the next days' drift is scored against it) and its own drift."""

    content_hash: str
    rows: dict[str, int]
    validation: ValidationSummary | None = None
    profile: dict[str, Any] | None = None
    drift: DriftSummary | None = None


class ModelCard(Document):
    """``model_card.json``: what a day's model is, how it was tuned, trained and judged."""

    NAME: ClassVar[str] = "retune-model-card"
    REGENERATE: ClassVar[str] = "run the day's export again to write its card anew"
    SAME_FIELDS_BEFORE_FORMATS: ClassVar[bool] = True

    pipeline: str
    ds: str
    segment: dict[str, Any] | None = None  # a segment's model: its key and value
    task: str
    run_id: str | None = None
    spec_sha256: str | None = None
    study: StudyRef
    tuned_value: float | None = None
    trials: dict[str, int]
    metric: MetricValue
    metrics: dict[str, float]
    trained_on: str = "train"
    metrics_from: str = "this model"
    champion: Decision | None = None
    approval: Approval | None = None
    params: dict[str, Any]
    xgboost_params: dict[str, Any]
    num_boost_round: int
    seeds: Seeds
    device: str
    memory: dict[str, Any]
    features: list[dict[str, Any]] = []
    feature_importance: dict[str, float] = {}
    data: CardData
    libraries: dict[str, str] = {}
    created_at: str

    def with_verdict(self, champion: Decision, approval: Approval | None) -> ModelCard:
        return self.model_copy(update={"champion": champion, "approval": approval})


class ChampionPointer(Document):
    """``champion.json``: the pipeline's deployed model (a copy under ``champions/``)."""

    NAME: ClassVar[str] = "retune-champion"
    REGENERATE: ClassVar[str] = "approve or export a day again to promote a champion anew"
    SAME_FIELDS_BEFORE_FORMATS: ClassVar[bool] = True

    ds: str
    run_id: str | None = None
    metric: str | None = None
    value: float | None = None
    num_boost_round: int
    model: str
    files: list[str] = []
    promoted_at: str | None = None


class EtlSummary(Document):
    """``staging/etl_summary.json``: what ETL read, set aside and staged for a day."""

    NAME: ClassVar[str] = "retune-etl-summary"
    REGENERATE: ClassVar[str] = "run etl for the day again"
    SAME_FIELDS_BEFORE_FORMATS: ClassVar[bool] = True

    pipeline: str
    ds: str
    source: str
    source_file_count: int
    source_files: list[str]  # the first LISTED_FILES of them, sorted
    rows_read: int
    quarantined: int
    quarantine_reasons: dict[str, int] = {}
    quarantine_path: str
    unlabeled: int = 0
    duplicates_removed: int = 0
    rows: dict[str, int]  # staged rows per split
    files: dict[str, int] = {}
    split: dict[str, Any] = {}  # the method, and the time cutoff of a time split
    derived_features: list[str] = []
    # Each categorical feature's vocabulary (values, most frequent first) and its counts.
    categories: dict[str, dict[str, Any]] = {}
    # A segmented pipeline's segments: key -> its value and rows per split.
    segments: dict[str, dict[str, Any]] | None = None
    ignored_columns: list[str] = []
    warnings: list[str] = []
    engine: str


class ValidationGate(Document):
    """``staging/gate.json``: the staged data passed its suite; materialize publishes only
    data whose content hash is this one."""

    NAME: ClassVar[str] = "retune-validation-gate"
    REGENERATE: ClassVar[str] = "run validate for the day again"
    SAME_FIELDS_BEFORE_FORMATS: ClassVar[bool] = True

    success: bool
    evaluated: int
    warnings: int = 0
    warned: list[str] = []  # each warning expectation, with its column
    content_hash: str
    # A segmented pipeline's segments: key -> its rows per split, as validated.
    segments: dict[str, dict[str, int]] | None = None
    result_path: str | None = None
    data_docs: str | None = None


class DriftReport(Document):
    """``reports/<p>/ds=<ds>/drift.json`` (and the manifest's ``drift``): today's snapshot
    scored against the champion's profile, column by column."""

    NAME: ClassVar[str] = "retune-drift-report"
    REGENERATE: ClassVar[str] = "run materialize for the day again"
    SAME_FIELDS_BEFORE_FORMATS: ClassVar[bool] = True

    level: str  # none (nothing to compare with) | ok | warn | error
    reference: DriftReference
    thresholds: dict[str, float | None]
    ignored: list[str] = []
    errors: list[str] = []  # the columns past drift.error, by score
    warned: list[str] = []
    accepted: bool = False  # past drift.error, and published (accept_drift)
    ranked: list[str] = []  # every scored column, by score
    columns: dict[str, ColumnDrift] = {}

    @property
    def stops(self) -> bool:
        return self.level == "error" and not self.accepted


class SegmentEntry(Part):
    """One segment of a snapshot: its column's value, rows per split and content hash."""

    value: Any = None
    rows: dict[str, int]
    content_hash: str | None = None


class SnapshotManifest(Document):
    """``datasets/<p>/ds=<ds>/manifest.json``: what a published snapshot holds, where it
    came from, how it was validated, its profile and its drift."""

    NAME: ClassVar[str] = "retune-snapshot-manifest"
    REGENERATE: ClassVar[str] = "run materialize for the day again"
    SAME_FIELDS_BEFORE_FORMATS: ClassVar[bool] = True

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, serialize_by_alias=True
    )

    pipeline: str
    ds: str
    rows: dict[str, int]  # per split
    segments: dict[str, SegmentEntry] | None = None  # a segmented pipeline's, by key
    column_types: dict[str, str] = Field(alias="schema")  # column -> its Arrow type
    features: list[str]
    # Each categorical feature's vocabulary (values, most frequent first): a value's code
    # is its index.
    categories: dict[str, dict[str, Any]] = {}
    unlabeled: int = 0
    ignored_columns: list[str] = []
    content_hash: str
    source: str
    source_file_count: int
    source_files: list[str]
    rows_read: int
    quarantined: int
    duplicates_removed: int = 0
    engine: str
    validation: ValidationSummary | None = None
    profile: dict[str, Any] | None = None  # see tasks.data.drift.snapshot_profile
    drift: DriftReport | None = None
    created_at: str


class StudyTrials(Part):
    """A study's trials by how they ended, and the seconds they spent training."""

    complete: int = 0
    pruned: int = 0
    failed: int = 0
    fit_seconds: float = 0.0


class IndexedModel(Part):
    """The global model of a segmented run, as its segments index keeps it."""

    study: str
    trials: StudyTrials
    model_dir: str
    metric: float
    promoted: bool
    reason: str


class IndexedSegment(Part):
    """One segment in a run's segments index: its own model, or why the global model
    serves it."""

    value: Any = None
    rows: dict[str, int]
    fallback: bool
    fallback_reason: str | None = None  # too_small, not_selected, unmatched, export_failed
    error: str | None = None  # why its export failed
    study: str | None = None
    trials: StudyTrials | None = None
    model_dir: str | None = None
    metric: float | None = None
    promoted: bool | None = None
    reason: str | None = None


class SegmentsIndex(Document):
    """``models/<p>/ds=<ds>/segments.json``: a segmented run's global model and segments."""

    NAME: ClassVar[str] = "retune-segments-index"
    REGENERATE: ClassVar[str] = "run the day's export again to write it anew"
    SAME_FIELDS_BEFORE_FORMATS: ClassVar[bool] = True

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, serialize_by_alias=True
    )

    pipeline: str
    ds: str
    run_id: str | None = None
    metric: str
    direction: str  # minimize | maximize
    segmentation: dict[str, Any] | None = None  # the spec's segments block
    plan: dict[str, Any]  # tasks.model.SegmentPlan.as_record
    global_model: IndexedModel = Field(alias="global")
    segments: dict[str, IndexedSegment]
    created_at: str

    @property
    def own_models(self) -> list[str]:
        return sorted(key for key, entry in self.segments.items() if not entry.fallback)

    @property
    def fallbacks(self) -> list[str]:
        return sorted(key for key, entry in self.segments.items() if entry.fallback)


class HistoryDrift(Part):
    """The drift a history line keeps: the level, the features named, the top scores."""

    level: str
    reference_ds: str | None = None
    errors: list[str] = []
    warned: list[str] = []
    accepted: bool = False
    top: dict[str, float | None] = {}


class HistoryLine(Document):
    """One line of ``models/<p>/history.jsonl``: what a run left behind (its model, the
    champion decision, its effort), appended once the champion is settled."""

    NAME: ClassVar[str] = "retune-history-line"
    REGENERATE: ClassVar[str] = "the line is skipped; a rerun of the day adds a new one"
    SAME_FIELDS_BEFORE_FORMATS: ClassVar[bool] = True

    ds: str
    run_id: str | None = None
    metric: str | None = None
    tuned_best: float | None = None
    value: float | None = None
    champion_value: float | None = None
    champion_ds: str | None = None
    promoted: bool = False
    reason: str | None = None
    approval: str | None = None  # the approval's state, when one was asked
    trials: dict[str, int] = {}
    rows: dict[str, int] = {}
    stage_seconds: dict[str, float] = {}
    wall_seconds: float | None = None
    spec_sha256: str | None = None
    content_hash: str | None = None
    drift: HistoryDrift | None = None
    # A segmented run: how many segments had their own model, fell back, were promoted.
    segments: dict[str, int] | None = None
    recorded_at: str | None = None
