"""The package layout: typer only in hubtools.cli, library modules never import hubtools.cli, and no import circle
between any two modules of the package, the cli and `__main__` entry points included; the Hub server and the
publish package keep their layers."""

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


def private_names(path: Path) -> set[str]:
    """Names a module keeps to itself: `_function`, `_Class`, `_method` and `obj._attribute` (not dunders)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def test_the_hub_runs_spaces_through_the_public_interface_of_the_space_runner() -> None:
    """The Hub's Space runtime builds on `hubtools.space`'s public names: it subclasses none of its classes,
    imports no private name from it, and defines, reads or calls none of its private names (`_process`, ...)."""
    modules = library_modules()
    runner = {name: path for name, path in modules.items() if name == "hubtools.space" or name.startswith("hubtools.space.")}
    assert {"hubtools.space.render", "hubtools.space.run"} <= set(runner)
    runner_private = set().union(*(private_names(path) for path in runner.values()))
    assert "_process" in runner_private
    for name, path in modules.items():
        if not name.startswith("hubtools.hub."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        from_runner = {
            alias.asname or alias.name for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[:2] == ["hubtools", "space"]
            for alias in node.names
        }
        bases = {base.id for node in ast.walk(tree) if isinstance(node, ast.ClassDef) for base in node.bases if isinstance(base, ast.Name)}
        assert not bases & from_runner, f"{name} subclasses {sorted(bases & from_runner)} of hubtools.space: compose it instead"
        assert private_names(path) & runner_private == set(), f"{name} uses private names of hubtools.space"
        assert {imported for imported in from_runner if imported.startswith("_")} == set()


PUBLISH_JOBS = {"options", "trees", "checks", "scan", "plan", "commit", "manifest", "upload_streams"}
COMMIT_CODE = {"hubtools.publish.commit", "hubtools.safe_commit"}


def publish_graph() -> dict[str, set[str]]:
    """Every hubtools module each module of the publish package imports, the package's own __init__ included."""
    modules = all_modules()
    package = {name: path for name, path in modules.items() if name == "hubtools.publish" or name.startswith("hubtools.publish.")}
    return {name: {target for target in imported_modules(path) if target in modules} for name, path in package.items()}


def test_the_publish_package_keeps_each_module_to_its_job() -> None:
    """publish() in the package's __init__ runs the jobs; the plan and the checks decide, and only the commit
    module writes to the Hub; no job imports the package's entry, and nothing in it imports the Hub server."""
    graph = publish_graph()
    assert {f"hubtools.publish.{job}" for job in PUBLISH_JOBS} | {"hubtools.publish"} == set(graph)
    for name, targets in graph.items():
        assert not {target for target in targets if target.split(".")[:2] == ["hubtools", "hub"]}, f"{name} imports the Hub server"
        if name == "hubtools.publish":
            continue
        assert "hubtools.publish" not in targets, f"{name} imports the package entry; the entry builds on the jobs"
        if name != "hubtools.publish.commit":
            assert not targets & COMMIT_CODE, f"{name} imports commit code {sorted(targets & COMMIT_CODE)}; only publish.commit commits"
    assert graph["hubtools.publish.scan"] <= {"hubtools.errors"}, "the scan reads local files only"
    assert {target for target in graph["hubtools.publish.plan"] if target.startswith("hubtools.publish.")} <= {
        "hubtools.publish.manifest", "hubtools.publish.scan",
    }, "the plan builds on the manifest and the scan's hashes, not on checks, trees or commits"
