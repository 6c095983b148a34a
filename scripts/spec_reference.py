"""Write docs/spec.md, the pipeline spec's reference, from the spec models themselves.

    python scripts/spec_reference.py            # rewrite docs/spec.md
    python scripts/spec_reference.py --check    # exit 1 when docs/spec.md is stale

Every field of ``tasks.core.PipelineSpec`` and of the sections under it, with its type,
default, bounds and description, as pydantic holds them: the reference cannot drift from
the code (tests/unit/test_spec_reference.py runs the check).
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from tasks.core import RUN_PARAMETERS, PipelineSpec

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "spec.md"
HEADER = """# The pipeline spec

Generated from `tasks/core/spec.py` by `python scripts/spec_reference.py` (a test fails
when it is stale): edit the models' descriptions there, never this file.

A spec is one YAML file per pipeline (`dags/specs/demo_regression.yaml`,
`examples/flights/flights_delay.yaml`). Unknown keys are errors, and so are values of
the wrong type (`"20"` or `true` for a number); every error names the file and the field.
A field not written takes its default. A run may override some fields through its
Params (the run parameters, at the end of this page).
"""
BOUNDS = (
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "≤"),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.MinLen, "min_length", "length ≥"),
    (annotated_types.MaxLen, "max_length", "length ≤"),
)


def models_in(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """The spec models an annotation holds, each with the path suffix that reaches it:
    ``""`` for the field itself, ``.<key>`` for a map's values, ``[]`` for a list's items."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("", annotation)]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return models_in(args[0])
    if origin is dict:
        return [(f".<{key_name(args[1])}>{suffix}", m) for suffix, m in models_in(args[1])]
    if origin is list:
        return [(f"[]{suffix}", m) for suffix, m in models_in(args[0])]
    return [found for arg in args for found in models_in(arg)]


def key_name(values: Any) -> str:
    models = [m for _, m in models_in(values)]
    return "param" if len(models) > 1 else "name"


def type_text(annotation: Any) -> str:
    """The YAML a field takes, in words."""
    if annotation is type(None):
        return "null"
    if annotation is typing.Any:
        return "any"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "section"
        return {
            str: "string",
            int: "integer",
            float: "number",
            bool: "boolean",
        }.get(annotation, annotation.__name__)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in args)
    if origin is typing.Annotated:
        return type_text(args[0])
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(dict.fromkeys(type_text(arg) for arg in args))
    if origin is list:
        return f"list of {type_text(args[0])}"
    if origin is dict:
        return f"map of {type_text(args[1])}"
    if origin is tuple:
        return "[" + ", ".join(type_text(arg) for arg in args) + "]"
    return str(annotation).replace("typing.", "")


def default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "its defaults"
    if value is None:
        return "none"
    if value in ({}, [], ""):
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def bounds_text(field: FieldInfo) -> str:
    found = []
    for item in field.metadata:
        for kind, attribute, sign in BOUNDS:
            if isinstance(item, kind):
                found.append(f"{sign} {getattr(item, attribute)}")
        pattern = getattr(item, "pattern", None)
        if pattern:
            found.append(f"matches `{pattern}`")
    return ", ".join(found)


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def section(
    path: str, model: type[BaseModel], kind: str = ""
) -> tuple[list[str], list[tuple[str, type[BaseModel]]]]:
    """The lines of one model's table, and the sections below it."""
    title = f"`{path}`" if path else "Top level"
    lines = [f"## {title}{kind}", ""]
    intro = (model.__doc__ or "").strip()
    if intro and model is not PipelineSpec:
        lines += [" ".join(intro.split()), ""]
    lines += ["| field | type | default | bounds | description |", "|---|---|---|---|---|"]
    below: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        lines.append(
            "| `{}` | {} | {} | {} | {} |".format(
                key,
                type_text(field.annotation),
                default_text(field),
                bounds_text(field),
                cell(field.description or ""),
            )
        )
        full = f"{path}.{key}" if path else key
        below += [(full + suffix, nested) for suffix, nested in models_in(field.annotation)]
    return [*lines, ""], below


def reference() -> str:
    """The whole page: the top level, then each section with the sections under it."""
    lines = [HEADER]

    def add(path: str, model: type[BaseModel], kind: str) -> None:
        table, below = section(path, model, kind)
        lines.extend(table)
        for sub_path, sub_model in below:
            # A map of several kinds of section (search_space): a table per kind, named.
            kinds = [m for p, m in below if p == sub_path]
            add(sub_path, sub_model, f" ({kind_name(sub_model)})" if len(kinds) > 1 else "")

    add("", PipelineSpec, "")
    lines.extend(run_parameters())
    return "\n".join(lines).rstrip() + "\n"


def run_parameters() -> list[str]:
    """The run parameters' table (tasks/core/run_params.py): what a run may set."""
    lines = [
        "## Run parameters",
        "",
        "A run's Params (the UI's *Trigger* form, a backfill's or `airflow dags trigger`'s "
        "`--conf`), each checked by JSON schema with the bounds of the spec field it sets. "
        "The run's first task writes the spec with them applied to the run's `spec.json`, "
        "which every later task reads.",
        "",
        "| Param | sets | read by | what |",
        "|---|---|---|---|",
    ]
    for param in RUN_PARAMETERS:
        stage = {"both": "data and tuning stages", "data": "data stages"}.get(
            param.stage, "tuning stages"
        )
        if param.segmented_only:
            stage += " (a pipeline with segments)"
        path = ".".join(param.path)
        lines.append(f"| `{param.name}` | `{path}` | {stage} | {cell(param.description)} |")
    return [*lines, ""]


def kind_name(model: type[BaseModel]) -> str:
    """A section kind by its ``type`` value (``type: float``), else by its model's name."""
    field = model.model_fields.get("type")
    values = typing.get_args(field.annotation) if field else ()
    return f"type: {values[0]}" if len(values) == 1 else model.__name__


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    args = parser.parse_args(argv)
    text = reference()
    if args.check:
        if not OUTPUT.is_file() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale: run python scripts/spec_reference.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(OUTPUT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
