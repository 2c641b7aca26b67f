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
        if not from_runner:
            continue  # a module that gets nothing from the runner cannot reach into it (its own `_process` is its own)
        bases = {base.id for node in ast.walk(tree) if isinstance(node, ast.ClassDef) for base in node.bases if isinstance(base, ast.Name)}
        assert not bases & from_runner, f"{name} subclasses {sorted(bases & from_runner)} of hubtools.space: compose it instead"
        assert private_names(path) & runner_private == set(), f"{name} uses private names of hubtools.space"
        assert {imported for imported in from_runner if imported.startswith("_")} == set()


# ---- no library's private names, no library module state assigned --------------------------------------


def own_names(trees: list[ast.AST]) -> set[str]:
    """Every name hubtools itself defines: functions, classes, variables, arguments, keywords, `self.x`/`cls.x`.
    A private attribute of one of these is hubtools' own (`space._process`)."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.keyword) and node.arg:
                names.add(node.arg)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
    return names


def is_module(package: str, name: str) -> bool:
    import importlib

    try:
        return importlib.import_module(f"{package}.{name}") is not None
    except ImportError:
        return False


def imported_library_modules(tree: ast.AST) -> set[str]:
    """Local names bound to a module of another package (`import datasets.config as c`, `from huggingface_hub
    import constants`) or fetched from `sys.modules`."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bound.update(alias.asname or alias.name.split(".")[0] for alias in node.names if not alias.name.startswith("hubtools"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and not node.module.startswith(("hubtools", "__future__")):
            bound.update(alias.asname or alias.name for alias in node.names if is_module(node.module, alias.name))
        elif isinstance(node, ast.Assign) and "sys.modules" in ast.unparse(node.value):
            bound.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return bound


def reaches_into_libraries(sources: dict[str, str]) -> list[str]:
    """`file:line what` for each use of a private name hubtools does not define (`info._to_yaml_dict()`,
    `from huggingface_hub._x import y`, `from m import _y`) and each assignment to another package's module
    (`constants.ENDPOINT = ...`)."""
    trees = {name: ast.parse(text) for name, text in sources.items()}
    own = own_names(list(trees.values()))
    found = []
    for name, tree in trees.items():
        modules = imported_library_modules(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") and node.attr not in own:
                found.append(f"{name}:{node.lineno} private .{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and not node.module.startswith("hubtools"):
                private = [part for part in node.module.split(".") if part.startswith("_") and not part.startswith("__")]
                private += [alias.name for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]
                found.extend(f"{name}:{node.lineno} private {part} of {node.module}" for part in private)
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
                base = node.value
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in modules:
                    found.append(f"{name}:{node.lineno} assigns {ast.unparse(node)}")
    return sorted(found)


def test_the_guard_catches_private_names_and_assigned_library_state() -> None:
    caught = reaches_into_libraries({
        "a.py": "def card(info):\n    return info._to_yaml_dict()\n",
        "b.py": "from huggingface_hub import constants\nconstants.ENDPOINT = 'http://x'\n",
        "c.py": "import sys\nhub = sys.modules.get('transformers.utils.hub')\nhub._hf_api = None\n",
        "d.py": "import datasets.config\ndatasets.config.HF_ENDPOINT = 'http://x'\n",
        "e.py": "from huggingface_hub._commit_api import CommitOperationAdd\nfrom transformers.utils.hub import _hf_api\n",
        "f.py": "class Space:\n    def __init__(self):\n        self._process = None\n    def stop(self):\n        return self._process\n",
    })
    assert caught == [
        "a.py:2 private ._to_yaml_dict",
        "b.py:2 assigns constants.ENDPOINT",
        "c.py:3 assigns hub._hf_api",
        "c.py:3 private ._hf_api",
        "d.py:2 assigns datasets.config.HF_ENDPOINT",
        "e.py:1 private _commit_api of huggingface_hub._commit_api",
        "e.py:2 private _hf_api of transformers.utils.hub",
    ]


def test_hubtools_uses_no_private_library_name_and_assigns_no_library_state() -> None:
    sources = {str(path.relative_to(PACKAGE)): path.read_text(encoding="utf-8") for path in sorted(PACKAGE.rglob("*.py"))}
    found = reaches_into_libraries(sources)
    assert found == []


# Rendering a card is pure (issue 29): these modules read what the run directory holds and return files. They import
# nothing that evaluates, compares or reaches the Hub, and call nothing that writes; `hubtools.card.write_model_card`
# gathers the report, the model selection and the benchmark's tasks into the run directory first.
CARD_RENDERING_MODULES = (
    "hubtools.card.facts", "hubtools.card.warnings", "hubtools.card.context", "hubtools.card.prose", "hubtools.card.dataset",
    "hubtools.card.model_index", "hubtools.card.render",
)
EVALUATION_OR_NETWORK = (
    "huggingface_hub", "httpx", "requests", "urllib", "socket", "transformers", "torch", "evaluate", "datasets",
    "hubtools.evaluation", "hubtools.compare", "hubtools.metrics", "hubtools.fit", "hubtools.train", "hubtools.hubclient",
    "hubtools.publish", "hubtools.verify", "hubtools.card", "hubtools.atomic_folder",
    "os", "shutil", "tempfile", "subprocess",
)
# What rendering may take from those: huggingface_hub's card classes (no request), names for metrics, its own modules.
RENDERING_MAY_IMPORT = frozenset({
    *(f"huggingface_hub.{name}" for name in (
        "ModelCard", "ModelCardData", "DatasetCard", "DatasetCardData", "EvalResult", "EvalResultEntry", "eval_result_entries_to_yaml",
    )),
    "huggingface_hub.utils.HFValidationError", "huggingface_hub.utils.validate_repo_id",
    "hubtools.metrics.metric_name", "hubtools.metrics.METRIC_NAMES", "hubtools.metrics.task_metric",
    *CARD_RENDERING_MODULES,
})
# Calls that write: pathlib's, pandas', huggingface_hub's card save and hubtools' own. (`savefig` is allowed: the
# plots draw into the in-memory buffer `render.png_bytes` gives them.)
WRITING_CALLS = frozenset({
    "open", "write_text", "write_bytes", "mkdir", "touch", "unlink", "rmdir", "rename", "replace", "symlink_to",
    "to_parquet", "to_csv", "to_json", "save", "save_pretrained", "push_to_hub", "write_json_atomic", "rmtree",
    "write_card_files",
})


def rendering_violations(sources: dict[str, str]) -> list[str]:
    """`module:line what` for each import of evaluation, network or writing code and each writing call."""
    found = []
    for name, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                imported = []
            for module in imported:
                allowed = module in RENDERING_MAY_IMPORT or module.rsplit(".", 1)[0] in CARD_RENDERING_MODULES
                if not allowed and any(module == bad or module.startswith(f"{bad}.") for bad in EVALUATION_OR_NETWORK):
                    found.append(f"{name}:{node.lineno} imports {module}")
            if isinstance(node, ast.Call):
                called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                string_replace = called == "replace" and len(node.args) == 2 and all(isinstance(arg, ast.Constant) for arg in node.args)
                if called in WRITING_CALLS and not string_replace:
                    found.append(f"{name}:{node.lineno} calls {called}")
    return sorted(found)


def test_the_rendering_guard_catches_evaluation_network_and_writing() -> None:
    caught = rendering_violations({
        "a.py": "from hubtools.evaluation import ensure_report\nfrom hubtools.compare import compare_runs\n",
        "b.py": "from huggingface_hub import hf_hub_download, ModelCard\nimport httpx\nfrom hubtools.hubclient import with_retries\n",
        "c.py": "from hubtools.metrics.uncertainty import paired_bootstrap_test\nfrom hubtools.metrics import metric_name\n",
        "d.py": "def f(run, p):\n    p.write_text('x')\n    write_json_atomic(run.model_selection, {})\n    return 'a'.replace('a', 'b')\n",
        "e.py": "from hubtools.card import write_model_card\nfrom hubtools.card.facts import Links\nimport os\n",
    })
    assert caught == [
        "a.py:1 imports hubtools.evaluation.ensure_report",
        "a.py:2 imports hubtools.compare.compare_runs",
        "b.py:1 imports huggingface_hub.hf_hub_download",
        "b.py:2 imports httpx",
        "b.py:3 imports hubtools.hubclient.with_retries",
        "c.py:1 imports hubtools.metrics.uncertainty.paired_bootstrap_test",
        "d.py:2 calls write_text",
        "d.py:3 calls write_json_atomic",
        "e.py:1 imports hubtools.card.write_model_card",
        "e.py:3 imports os",
    ]


def test_rendering_a_card_evaluates_fetches_and_writes_nothing() -> None:
    modules = all_modules()
    sources = {name: modules[name].read_text(encoding="utf-8") for name in CARD_RENDERING_MODULES}
    assert rendering_violations(sources) == []


# The evaluation package by job: figures and the baseline need no model library; no step of it builds on the card,
# the publishing or the Space code (they read its report, not the reverse).
EVALUATION_PACKAGE = "hubtools.evaluation"
MODEL_LIBRARIES = ("transformers", "torch", "onnxruntime")
EVALUATION_FORBIDDEN = {
    "hubtools.evaluation.plots": MODEL_LIBRARIES,
    "hubtools.evaluation.baseline": MODEL_LIBRARIES,
}
DOWNSTREAM_OF_EVALUATION = ("hubtools.card", "hubtools.publish", "hubtools.space", "hubtools.verify", "hubtools.claims")


def evaluation_role_violations(imports: dict[str, set[str]]) -> list[str]:
    """`module imports target` for each import an evaluation module may not make (`imports`: module -> what it imports)."""
    found = []
    for name, targets in sorted(imports.items()):
        if not (name == EVALUATION_PACKAGE or name.startswith(f"{EVALUATION_PACKAGE}.")):
            continue
        forbidden = EVALUATION_FORBIDDEN.get(name, ()) + DOWNSTREAM_OF_EVALUATION
        found += [f"{name} imports {target}" for target in sorted(targets) if any(target == bad or target.startswith(f"{bad}.") for bad in forbidden)]
    return found


def test_the_evaluation_packages_modules_keep_their_roles() -> None:
    modules = all_modules()
    package = {name: path for name, path in modules.items() if name == EVALUATION_PACKAGE or name.startswith(f"{EVALUATION_PACKAGE}.")}
    assert set(package) == {EVALUATION_PACKAGE, *(f"{EVALUATION_PACKAGE}.{job}" for job in ("predict", "baseline", "build", "plots", "write"))}
    assert evaluation_role_violations({name: imported_modules(path) for name, path in package.items()}) == []
    assert "hubtools.report" not in modules, "report.py became the hubtools.evaluation package"


def test_the_evaluation_role_check_catches_a_planted_violation() -> None:
    planted = {
        "hubtools.evaluation.plots": {"numpy", "torch"},
        "hubtools.evaluation.baseline": {"transformers.models.auto", "sklearn.pipeline"},
        "hubtools.evaluation.build": {"torch", "hubtools.card.facts"},
        "hubtools.evaluation.write": {"hubtools.publish.plan"},
        "hubtools.card.render": {"torch"},
    }
    assert evaluation_role_violations(planted) == [
        "hubtools.evaluation.baseline imports transformers.models.auto",
        "hubtools.evaluation.build imports hubtools.card.facts",
        "hubtools.evaluation.plots imports torch",
        "hubtools.evaluation.write imports hubtools.publish.plan",
    ]


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
