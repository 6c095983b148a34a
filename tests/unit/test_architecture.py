"""The engine's shape: packages by stage, imports only downwards, faces, walls.

Read from the source with ``scripts/import_graph.py`` (lazy imports in functions count).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from scripts.import_graph import cycles, engine_modules, import_graph, imported_names
from tests.conftest import ROOT

# Lower layers first: a package may import only packages of a lower rank.
RANKS = {
    "tasks.core": 0,
    "tasks.spark": 1,
    "tasks.data": 2,
    "tasks.model": 2,
    "tasks.tuning.storage": 3,
    "tasks.tuning": 4,
    "tasks.export": 5,
    "tasks.jobs": 6,
}
FACES = [package for package in RANKS if package != "tasks.jobs"]


def package_of(module: str) -> str | None:
    for package in sorted(RANKS, key=len, reverse=True):
        if module == package or module.startswith(package + "."):
            return package
    return None


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_engine_has_no_import_cycle() -> None:
    assert cycles(import_graph(ROOT)) == []
    assert cycles(import_graph(ROOT, resolve_faces=True)) == []


def test_the_graph_sees_a_cycle_and_a_lazy_import(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "__init__.py").write_text("")
    (tmp_path / "tasks" / "a.py").write_text("from tasks.b import x\n")
    (tmp_path / "tasks" / "b.py").write_text("def f():\n    from tasks import a\n")
    assert cycles(import_graph(tmp_path)) == [["tasks.a", "tasks.b"]]


def test_every_engine_module_is_in_a_stage_package_and_tasks_itself_stays_small() -> None:
    modules = engine_modules(ROOT)
    assert [m for m in modules if package_of(m) is None and m != "tasks"] == []
    top = [p for p in (ROOT / "tasks").glob("*.py")]
    assert len(top) <= 6, top


def test_imports_go_only_down_the_layers() -> None:
    wrong = []
    for module, targets in import_graph(ROOT, resolve_faces=True).items():
        source = package_of(module)
        for target in targets:
            aim = package_of(target)
            if source is None or aim is None or aim == source:
                continue
            if RANKS[aim] >= RANKS[source]:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_the_engine_never_imports_airflow() -> None:
    found = []
    for name, path in engine_modules(ROOT).items():
        imported = imported_names(parsed(path), name, path.name == "__init__.py")
        found += [f"{name}: {i}" for i in imported if i.split(".")[0] == "airflow"]
    assert found == []


@pytest.mark.parametrize("face", FACES)
def test_each_package_face_lists_names_that_exist(face: str) -> None:
    module = importlib.import_module(face)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def callers() -> list[Path]:
    folders = ("dags", "plugins", "bench", "scripts")
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]


def test_code_around_the_engine_and_across_its_packages_imports_faces_only() -> None:
    """dags, plugins, bench and scripts import a package's face, never its modules; an
    engine module does the same for any package but its own."""
    faces = set(FACES)
    reach_in = []
    for path in callers():
        for node in ast.walk(parsed(path)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if module and module.startswith("tasks.") and module not in faces:
                reach_in.append(f"{path.relative_to(ROOT)}: {node.module}")
    for name, path in engine_modules(ROOT).items():
        own = package_of(name)
        if own == "tasks.jobs":
            continue
        for node in ast.walk(parsed(path)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            outside = module and module.startswith("tasks.") and package_of(module) != own
            if outside and module not in faces:
                reach_in.append(f"{name}: {module}")
    assert reach_in == []


def private_attributes(tree: ast.AST) -> list[str]:
    """``x._name`` on anything but self, cls or super()."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        if isinstance(owner, ast.Call) and getattr(owner.func, "id", "") == "super":
            continue
        found.append(f"{node.lineno}: .{node.attr}")
    return found


def test_private_optuna_names_live_behind_one_wall() -> None:
    outside = []
    for name, path in engine_modules(ROOT).items():
        if name.startswith("tasks.tuning.storage"):
            continue
        tree = parsed(path)
        imported = imported_names(tree, name, path.name == "__init__.py")
        if not any(i.split(".")[0] == "optuna" for i in imported):
            continue
        outside += [f"{name}: {i}" for i in imported if i.startswith("optuna") and "._" in i]
        outside += [f"{name}:{p}" for p in private_attributes(tree)]
    assert outside == []


def test_the_wall_check_finds_a_private_name() -> None:
    tree = ast.parse("import optuna\ndef f(t, s):\n    return t._trial_id, s.x, self._y\n")
    assert private_attributes(tree) == ["3: ._trial_id"]


def test_storage_names_are_written_only_in_the_layout() -> None:
    """No engine or plugin module spells a storage file name that the layout defines, nor
    joins a path with one of its folder names."""
    layout_source = parsed(ROOT / "tasks" / "core" / "layout.py")
    names = {
        node.value.value
        for node in layout_source.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        if isinstance(node.value.value, str) and node.value.value.isprintable()
    }
    files = {n for n in names if "." in n or n.startswith("_")}
    folders = names - files - {"train", "valid"}
    assert {"manifest.json", "model_card.json", "_SUCCESS", ".champion.lock"} <= files
    assert {"data_docs", "quarantine", "champions", "plots"} <= folders
    spelled = []
    paths = [*engine_modules(ROOT).values(), *sorted((ROOT / "plugins").rglob("*.py"))]
    for path in paths:
        if path == ROOT / "tasks" / "core" / "layout.py":
            continue
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Constant) and node.value in files:
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
            joined = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
            if joined and isinstance(node.right, ast.Constant) and node.right.value in folders:
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}: / {node.right.value!r}")
            compared = isinstance(node, ast.Compare) and any(
                isinstance(c, ast.Constant) and c.value in folders for c in node.comparators
            )
            if compared:
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}: == folder name")
    assert spelled == []


# The files of the typed stage documents (tasks/core/documents.py), as the layout names them.
TYPED_DOCUMENTS = {
    "card_file": "ModelCard",
    "CARD_FILE": "ModelCard",
    "champion_file": "ChampionPointer",
    "CHAMPION_FILE": "ChampionPointer",
    "report_parts_file": "ReportParts",
    "REPORT_PARTS_FILE": "ReportParts",
    "etl_summary_file": "EtlSummary",
    "ETL_SUMMARY": "EtlSummary",
    "gate_file": "ValidationGate",
    "GATE_FILE": "ValidationGate",
    "manifest_file": "SnapshotManifest",
    "MANIFEST": "SnapshotManifest",
    "drift_file": "DriftReport",
    "DRIFT_FILE": "DriftReport",
    "segments_index_file": "SegmentsIndex",
    "SEGMENTS_INDEX": "SegmentsIndex",
}


def documents_read_by_hand(tree: ast.AST) -> list[str]:
    """Lines that read a typed document's file as text or JSON, not through its model."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr not in ("read_text", "loads", "load", "open"):
            continue
        spelled = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        spelled |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
        for name in sorted(spelled & set(TYPED_DOCUMENTS)):
            found.append(f"{node.lineno}: {name} (read it with {TYPED_DOCUMENTS[name]}.read)")
    return found


def test_stage_documents_are_read_only_through_their_models() -> None:
    offences = []
    paths = [
        *engine_modules(ROOT).values(),
        *sorted((ROOT / "plugins").rglob("*.py")),
        *sorted((ROOT / "scripts").glob("*.py")),
    ]
    for path in paths:
        offences += [f"{path.relative_to(ROOT)}:{o}" for o in documents_read_by_hand(parsed(path))]
    assert offences == []


def test_the_document_check_finds_a_card_read_by_hand() -> None:
    tree = ast.parse("import json\ncard = json.loads(layout.card_file.read_text())\n")
    assert documents_read_by_hand(tree) == [
        "2: card_file (read it with ModelCard.read)",
        "2: card_file (read it with ModelCard.read)",
    ]


def test_the_engine_holds_no_helper_that_forges_a_validation() -> None:
    """Only test support writes a gate without validating; no engine module does."""
    writers = []
    for name, path in engine_modules(ROOT).items():
        if name in ("tasks.data.validation", "tasks.core.documents"):  # its maker, its model
            continue
        if "ValidationGate(" in path.read_text(encoding="utf-8"):
            writers.append(name)
    assert writers == []


def imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports from, lazy imports included."""
    found = []
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def test_benchmarks_import_nothing_from_the_tests() -> None:
    reach_in = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / "bench").rglob("*.py"))
        for module in imported_modules(path)
        if module == "tests" or module.startswith("tests.")
    ]
    assert reach_in == []


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in support modules or conftest files, never in a test module."""
    reach_in = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for module in imported_modules(path)
        if module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith("test_")
    ]
    assert reach_in == []
