"""The run parameters: what a run (manual, backfill, ``--conf``) may set for itself, in one
table. Each sets one spec field for the run, so it reaches the run's ``spec.json`` and its
hash. The Airflow Params of the DAGs (type, bounds, default) and the reference in
``docs/spec.md`` are derived from this table and from the spec fields it names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from tasks.core.errors import SpecError
from tasks.core.layout import SEGMENT_KEY_PATTERN
from tasks.core.spec import PipelineSpec, parse_spec

if TYPE_CHECKING:
    from pydantic import BaseModel

# JSON-schema keys of a spec field that a Param keeps (the rest: title, default, ...).
SCHEMA_KEYS = (
    "type",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "items",
    "minItems",
    "format",
)


@dataclass(frozen=True)
class RunParam:
    name: str
    path: tuple[str, ...]  # the spec field it sets, from the top of the spec
    stage: Literal["data", "tuning", "both"]  # which DAG's stages read it
    description: str
    schema: Mapping[str, Any] = field(default_factory=dict)  # beyond the spec field's
    segmented_only: bool = False  # a Param only of a pipeline with segments


RUN_PARAMETERS: tuple[RunParam, ...] = (
    RunParam(
        "n_trials",
        ("tuning", "n_trials"),
        "tuning",
        "Trial budget of this run's study (total, over all workers).",
    ),
    RunParam(
        "n_workers",
        ("tuning", "n_workers"),
        "tuning",
        "Parallel tuning applications (mapped tune tasks).",
    ),
    RunParam(
        "spark_tasks_per_worker",
        ("tuning", "spark_tasks_per_worker"),
        "tuning",
        "Optuna workers (Spark tasks) inside each tuning application.",
    ),
    RunParam(
        "timeout_minutes",
        ("tuning", "timeout_minutes"),
        "tuning",
        "Study deadline in minutes from create_study: no new trial after it (empty: the spec's).",
    ),
    RunParam(
        "warm_start",
        ("tuning", "warm_start"),
        "tuning",
        "Start with the previous ds's best parameter sets.",
    ),
    RunParam(
        "fresh_study",
        ("tuning", "fresh_study"),
        "tuning",
        "Archive this ds's existing studies (the global one and every segment's) and tune "
        "from scratch.",
    ),
    RunParam(
        "segments",
        ("segments", "only"),
        "tuning",
        "Tune and export only these segments (keys, as in segments.json); empty: all. The "
        "others keep their champions.",
        schema={"items": {"type": "string", "pattern": f"^{SEGMENT_KEY_PATTERN.pattern}$"}},
        segmented_only=True,
    ),
    RunParam(
        "accept_drift",
        ("drift", "accept"),
        "data",
        "Publish today's snapshot even when it drifted from the champion's past "
        "drift.error (the drift is still recorded).",
    ),
    RunParam(
        "gpu",
        ("gpu",),
        "both",
        "auto: GPU when one is there; on: require one; off: CPU only.",
    ),
)

# name -> the spec path it sets (what with_overrides applies).
RUN_PARAMS: dict[str, tuple[str, ...]] = {p.name: p.path for p in RUN_PARAMETERS}


def field_schema(path: tuple[str, ...]) -> dict[str, Any]:
    """The JSON schema of the spec field at ``path`` (pydantic's), as a Param takes it: an
    optional field's ``anyOf [X, null]`` becomes X with ``type: [null, X's type]``."""
    return dict(_field_schema(path))


@cache
def _field_schema(path: tuple[str, ...]) -> dict[str, Any]:
    # Once per field: every DAG of every spec asks at parse time, and a model's whole
    # JSON schema is built for each ask.
    model: type[BaseModel] = PipelineSpec
    *parents, leaf = path
    for name in parents:
        model = nested_model(model, name)
    schema = model.model_json_schema()["properties"][leaf]
    options = schema.get("anyOf")
    if options:
        kinds = [o for o in options if o.get("type") != "null"]
        (kind,) = kinds
        schema = {**kind, "type": ["null", kind["type"]]}
    return {key: schema[key] for key in SCHEMA_KEYS if key in schema}


def nested_model(model: type[BaseModel], name: str) -> type[BaseModel]:
    """The model of field ``name`` of ``model`` (optional or not)."""
    from pydantic import BaseModel

    annotation = model.model_fields[name].annotation
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    raise TypeError(f"{model.__name__}.{name} is not a section of the spec")


def spec_value(spec: PipelineSpec, path: tuple[str, ...]) -> Any:
    """The spec's value at ``path`` (None when a section on the way is absent)."""
    node: Any = spec
    for name in path:
        if node is None:
            return None
        node = getattr(node, name)
    return node


def param_schema(param: RunParam) -> dict[str, Any]:
    """The Param's JSON schema: the spec field's, with the table's additions."""
    schema = field_schema(param.path)
    for key, value in param.schema.items():
        schema[key] = {**schema[key], **value} if isinstance(value, dict) else value
    return schema


def params_for(spec: PipelineSpec, *stages: Literal["data", "tuning"]) -> list[RunParam]:
    """The run parameters a DAG of ``spec`` offers for the tasks of ``stages``, in table
    order."""
    return [
        p
        for p in RUN_PARAMETERS
        if (p.stage == "both" or p.stage in stages)
        and (spec.segments is not None or not p.segmented_only)
    ]


def with_overrides(spec: PipelineSpec, overrides: dict[str, Any]) -> PipelineSpec:
    """The spec with run parameters applied (``None`` means: keep the spec's value)."""
    unknown = sorted(set(overrides) - set(RUN_PARAMS))
    if unknown:
        raise SpecError(f"unknown run parameter(s) {unknown}; known: {sorted(RUN_PARAMS)}")
    data = spec.model_dump(by_alias=True, mode="json")
    for name, value in overrides.items():
        if value is None:
            continue
        *parents, leaf = RUN_PARAMS[name]
        node = data
        for key in parents:
            if node.get(key) is None:
                raise SpecError(
                    f"run parameter {name!r}: pipeline {spec.name} has no {'.'.join(parents)}"
                )
            node = node[key]
        node[leaf] = value
    return parse_spec(data, source=f"{spec.name} with run parameters {overrides}")
