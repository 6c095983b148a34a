"""The run's resolved spec: the pipeline's YAML with the run's Params, fixed for the run.

The first task of a run writes it, as JSON, to ``runs/<p>/ds=<ds>/<run>/spec.json``;
every later task and Spark job of the run reads that file, so a YAML edited while a
run is going changes the next run, never half of this one. A retry of a task reads
the same file; a new run writes its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tasks.core.errors import SpecError, StorageNotWritable
from tasks.core.run_params import with_overrides
from tasks.core.spec import PipelineSpec, load_spec, parse_spec

FORMAT = "retune-run-spec/1"


@dataclass(frozen=True)
class RunSpec:
    """The spec a run uses, where it is kept and its SHA-256 (of the canonical JSON)."""

    spec: PipelineSpec
    path: Path
    sha256: str


def canonical_json(spec: PipelineSpec) -> str:
    return json.dumps(
        spec.model_dump(by_alias=True, mode="json"), sort_keys=True, separators=(",", ":")
    )


def spec_sha256(spec: PipelineSpec) -> str:
    """The spec's fingerprint: the same resolved spec always gives the same digest."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def read_run_spec(path: str | Path) -> RunSpec:
    """Read a run spec file, refusing one whose content does not match its SHA-256."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the run's spec ({exc.strerror})") from None
    except ValueError as exc:
        raise SpecError(f"{path}: the run's spec is not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SpecError(f'{path}: not a Retune run spec (no "format": "{FORMAT}")')
    spec = parse_spec(document.get("spec"), source=str(path))
    digest = spec_sha256(spec)
    if digest != document.get("spec_sha256"):
        raise SpecError(
            f"{path}: the run's spec was changed after it was written (SHA-256 {digest} != "
            f"{document.get('spec_sha256')}); start a new run instead of editing it"
        )
    return RunSpec(spec, path, digest)


def write_run_spec(
    path: str | Path, spec: PipelineSpec, run_id: str, source: str, overrides: dict[str, Any]
) -> RunSpec:
    """Write the run spec unless the run has one: the first writer wins, later ones read it.

    The file appears whole or not at all (written aside, then hard-linked into place,
    which fails when the name exists), so two tasks starting at once agree on one spec.
    """
    path = Path(path)
    digest = spec_sha256(spec)
    document = {
        "format": FORMAT,
        "spec_sha256": digest,
        "run_id": run_id,
        "source": source,
        "overrides": overrides,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        # In the author's order: schema.columns' order is the model's feature order.
        "spec": spec.model_dump(by_alias=True, mode="json"),
    }
    aside = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        aside.write_text(json.dumps(document, indent=2), encoding="utf-8")
        os.link(aside, path)
    except FileExistsError:
        if path.is_file():
            return read_run_spec(path)
        raise StorageNotWritable(
            f"cannot write the run's spec {path}: a part of the path is a file"
        ) from None
    except OSError as exc:
        raise StorageNotWritable(
            f"cannot write the run's spec {path}: {exc.strerror or exc}"
        ) from None
    finally:
        with contextlib.suppress(OSError):  # nothing was written aside when a folder failed
            aside.unlink(missing_ok=True)
    return RunSpec(spec, path, digest)


def resolve_run_spec(
    path: str | Path, spec_file: str | Path, run_id: str, overrides: dict[str, Any]
) -> RunSpec:
    """The run's spec at ``path``: read when the run has one, else resolved from
    ``spec_file`` (YAML) and ``overrides`` (the run's Params) and written there."""
    path = Path(path)
    if path.is_file():
        return read_run_spec(path)
    spec = with_overrides(load_spec(spec_file), overrides)
    return write_run_spec(path, spec, run_id, str(spec_file), overrides)


def read_spec_file(path: str | Path, overrides: dict[str, Any] | None = None) -> PipelineSpec:
    """A job's spec: a run spec (``.json``, already resolved) or a pipeline spec YAML with
    ``overrides`` applied."""
    if Path(path).suffix == ".json":
        if overrides:
            raise SpecError(
                f"{path} is a run's resolved spec: its run parameters are in it, so "
                f"{sorted(overrides)} cannot be applied again"
            )
        return read_run_spec(path).spec
    return with_overrides(load_spec(path), overrides or {})
