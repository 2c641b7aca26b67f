"""The package layout: typer only in hubtools.cli, library modules never import hubtools.cli, and no import circle
between any two modules of the package, the cli and `__main__` entry points included."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "hubtools"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def library_modules() -> dict[str, Path]:
    """Every module but the command line (hubtools.cli) and the `python -m` entry points (`__main__`)."""
    return {
        name: path for name, path in all_modules().items()
        if "cli" not in path.relative_to(PACKAGE).parts and path.name != "__main__.py"
    }


def imported_modules(path: Path) -> set[str]:
    """Every module (and `from M import name` as M.name) that `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_circle_between_any_modules() -> None:
    modules = all_modules()
    known = set(modules)
    # `from hubtools.hub import x` also names the package itself, whose __init__ re-exports the server; a
    # submodule's edge to its own package's __init__ is how Python imports it, not a circle between modules.
    graph = {
        name: {
            target
            for target in imported_modules(path) & known
            if target != name and not name.startswith(target + ".")
        }
        for name, path in modules.items()
    }
    assert {"hubtools.cli.train", "hubtools.train"} <= set(graph)  # the cli modules are in the graph
    assert find_cycle(graph) is None, f"import circle: {' -> '.join(find_cycle(graph))}"
    assert "hubtools.search" not in graph["hubtools.train"], "train must not import search (search builds on train)"


def test_library_modules_do_not_import_the_cli() -> None:
    offenders = {name: sorted(target for target in imported_modules(path) if target.startswith("hubtools.cli"))
                 for name, path in library_modules().items()}
    assert {name: targets for name, targets in offenders.items() if targets} == {}, "the cli builds on the library, not the reverse"


def test_library_modules_do_not_import_typer() -> None:
    offenders = [name for name, path in library_modules().items() if "typer" in imported_modules(path)]
    assert offenders == [], f"typer belongs in hubtools.cli only: {offenders}"


def hub_graph() -> dict[str, set[str]]:
    """Imports between the embedded Hub's modules (hubtools.hub.*)."""
    modules = {name: path for name, path in library_modules().items() if name.startswith("hubtools.hub.")}
    return {name: imported_modules(path) & set(modules) for name, path in modules.items()}


def test_hub_routers_and_store_modules_are_layered_without_circle() -> None:
    """The Hub's routers build on deps and the store; the store knows nothing of HTTP, routers nothing of each other."""
    graph = hub_graph()
    routers = {name for name in graph if name.startswith("hubtools.hub.routers.")}
    store = {name for name in graph if name.startswith("hubtools.hub.store.")}
    assert {"hubtools.hub.routers.repos", "hubtools.hub.routers.downloads", "hubtools.hub.routers.xet"} <= routers
    assert {"hubtools.hub.store.database", "hubtools.hub.store.blobs", "hubtools.hub.store.gc"} <= store
    assert find_cycle({name: targets - {name} for name, targets in graph.items()}) is None
    allowed_in_store = store | {"hubtools.hub.store", "hubtools.hub.errors", "hubtools.hub.repo_types"}
    for name in store:
        assert graph[name] <= allowed_in_store, f"{name} imports {sorted(graph[name] - allowed_in_store)}"
    for name in routers:
        assert not graph[name] & (routers - {name}), f"{name} imports another router"
    importers = {name for name, targets in graph.items() if targets & routers} - routers
    assert importers == {"hubtools.hub.app"}, f"only the app includes routers, not {sorted(importers - {'hubtools.hub.app'})}"


# The card package's pure steps read what the run directory holds: no model, no metric computation, no Hub.
CARD_PURE_MODULES = ("hubtools.card.facts", "hubtools.card.warnings")
EVALUATION_OR_NETWORK = (
    "huggingface_hub", "httpx", "requests", "urllib.request", "transformers", "torch", "evaluate", "datasets",
    "hubtools.report", "hubtools.compare", "hubtools.fit", "hubtools.train", "hubtools.hubclient", "hubtools.publish",
    "hubtools.verify", "hubtools.cards",
)


def test_the_card_packages_facts_and_warnings_evaluate_and_fetch_nothing() -> None:
    modules = all_modules()
    for name in CARD_PURE_MODULES:
        imported = imported_modules(modules[name])
        forbidden = sorted(module for module in imported if any(module == bad or module.startswith(f"{bad}.") for bad in EVALUATION_OR_NETWORK))
        assert not forbidden, f"{name} imports {forbidden}: it may only read what the run directory holds"
