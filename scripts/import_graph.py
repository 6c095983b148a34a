"""The engine's import graph, read from the source (nothing is imported).

Counts every ``import`` of a ``tasks`` module, at the top of a module or inside a
function, so a cycle hidden in a lazy import counts too. Two graphs: the *load* graph,
where importing a package's face (``from tasks.tuning import study_name``) imports the
face and so every module it lists, and the *dependency* graph, where that import counts
as an import of the module that defines the name (``tasks.tuning.study``).

    python scripts/import_graph.py [--root .]   # prints one JSON object of figures
"""

from __future__ import annotations

import argparse
import ast
import json
from collections import Counter
from pathlib import Path

PACKAGE = "tasks"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def engine_modules(root: Path) -> dict[str, Path]:
    """Every module of the engine, by dotted name (packages under their own name)."""
    return {
        module_name(root, path): path
        for path in sorted((root / PACKAGE).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def imported_names(tree: ast.AST, current: str, is_package: bool) -> set[str]:
    """Dotted names that ``current`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    names: set[str] = set()
    package = current if is_package else current.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, node.module] if node.module else base_parts)
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def face_exports(root: Path) -> dict[str, dict[str, str]]:
    """face -> {name it lists: the module that defines it}, from each ``__init__.py``."""
    faces: dict[str, dict[str, str]] = {}
    for name, path in engine_modules(root).items():
        if path.name != "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        faces[name] = {
            alias.asname or alias.name: node.module
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.module
            for alias in node.names
        }
    return faces


def import_graph(root: Path, resolve_faces: bool = False) -> dict[str, set[str]]:
    """module -> the engine modules it imports: the load graph, or with ``resolve_faces``
    the dependency graph (a name taken from a face counts as its defining module)."""
    modules = engine_modules(root)
    faces = face_exports(root) if resolve_faces else {}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = imported_names(tree, name, path.name == "__init__.py")
        if name not in faces:
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module in faces:
                    listed = faces[node.module]
                    if all(alias.name in listed for alias in node.names):
                        targets.discard(node.module)
                        targets.update(listed[alias.name] for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def longest_chain(graph: dict[str, set[str]]) -> list[str]:
    """The longest path of imports (a module -> a module it imports -> ...), cycles cut."""
    best: dict[str, list[str]] = {}

    def walk(node: str, seen: frozenset[str]) -> list[str]:
        if node in best:
            return best[node]
        longest: list[str] = []
        for target in sorted(graph.get(node, ())):
            if target in seen:
                continue
            path = walk(target, seen | {target})
            if len(path) > len(longest):
                longest = path
        chain = [node, *longest]
        best[node] = chain
        return chain

    return max((walk(node, frozenset({node})) for node in sorted(graph)), key=len, default=[])


def figures(root: Path) -> dict[str, object]:
    modules = engine_modules(root)
    graph = import_graph(root)
    dependencies = import_graph(root, resolve_faces=True)
    per_folder = Counter(
        str(path.parent.relative_to(root))
        for path in modules.values()
        if path.name != "__init__.py"
    )
    chain = longest_chain(dependencies)
    load_chain = longest_chain(graph)
    return {
        "modules": sum(per_folder.values()),
        "modules_per_folder": dict(sorted(per_folder.items())),
        "import_cycles": cycles(graph) + cycles(dependencies),
        "longest_dependency_chain_length": len(chain),
        "longest_dependency_chain": chain,
        "longest_load_chain_length": len(load_chain),
        "longest_load_chain": load_chain,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    print(json.dumps(figures(args.root.resolve())))


if __name__ == "__main__":
    main()
