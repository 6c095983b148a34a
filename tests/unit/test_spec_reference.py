"""docs/spec.md is the spec models' own reference (scripts/spec_reference.py): never stale,
and every field of every section is in it."""

from __future__ import annotations

from pydantic import BaseModel

from scripts.spec_reference import OUTPUT, main, models_in, reference
from tasks.core import PipelineSpec


def test_docs_spec_md_is_what_the_models_generate() -> None:
    assert main(["--check"]) == 0, "docs/spec.md is stale: run python scripts/spec_reference.py"
    assert OUTPUT.read_text(encoding="utf-8") == reference()


def test_every_field_of_every_section_has_a_row_and_a_description() -> None:
    page = reference()
    seen: set[type[BaseModel]] = set()
    models: list[type[BaseModel]] = [PipelineSpec]
    while models:
        model = models.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in page, (model.__name__, name)
            assert field.description, f"{model.__name__}.{name} has no description"
            models += [nested for _, nested in models_in(field.annotation)]
    assert len(seen) >= 20


def test_a_stale_page_is_reported(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import scripts.spec_reference as generator

    stale = tmp_path / "spec.md"
    stale.write_text("# old\n")
    monkeypatch.setattr(generator, "OUTPUT", stale)
    assert generator.main(["--check"]) == 1
    assert "is stale: run python scripts/spec_reference.py" in capsys.readouterr().err
