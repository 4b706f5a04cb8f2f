"""The core stays platform-neutral, and SQL stays in the store."""

import ast
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import companion
import companion_adapters

ROOT = Path(companion.__file__).parent
ADAPTERS = Path(companion_adapters.__file__).parent


def test_importing_every_core_module_loads_no_platform_library():
    modules = [
        m.name
        for m in pkgutil.walk_packages([str(ROOT)], "companion.")
        if not m.name.endswith("__main__")
    ]
    assert "companion.dispatch" in modules and "companion.store.db" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('discord', 'nio'))\n"
        "print(leaked)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


SQL = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.I)


def test_sql_lives_only_in_the_store():
    offenders = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if "store" not in path.relative_to(ROOT).parts and SQL.search(path.read_text())
    ]
    assert offenders == []


def test_no_class_is_over_300_lines():
    """A class too big to read (a feature, an adapter, the scheduler) splits into modules
    named for what they do."""
    too_long = [
        f"{path.relative_to(folder.parent)}: {node.name} "
        f"({node.end_lineno - node.lineno + 1} lines)"
        for folder in (ROOT, ADAPTERS)
        for path in folder.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and (node.end_lineno or 0) - node.lineno >= 300
    ]
    assert too_long == []


# --- layers and the import graph -----------------------------------------------------------
#
# The layers of companion/, lowest first; a module may import its own layer and those below,
# never one above. The README's design notes show the same table. Modules are matched by
# their name below ``companion.`` (a package name covers its submodules).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("", "markup", "fmt", "events", "schema", "recurrence", "identity", "logs", "extras",
              "checklist", "metrics", "config", "httpedge", "liveness")),
    ("ports", ("ports", "commands", "textparse", "flood", "links", "mentions")),
    ("store", ("store", "content")),
    ("services", ("delivery", "scheduler", "notices", "dispatch", "reload", "accounts")),
    ("features", ("features", "exchange", "anonymity")),
    ("gateway", ("gateway", "platforms")),
    ("app", ("app", "doctor", "doctor_store", "health", "operations")),
    ("surfaces", ("web", "cli", "__main__")),
)  # fmt: skip
# What an adapter (a surface outside the core) may import from the core.
ADAPTERS_MAY_IMPORT = (
    "companion.ports",
    "companion.events",
    "companion.fmt",
    "companion.markup",
    "companion.commands",
    "companion.config",
    "companion.checklist",
    "companion.platforms",
    "companion.gateway",
)
REPO = ROOT.parent


def import_graph(repo: Path = REPO) -> dict[str, set[str]]:
    """Every import in companion/ and adapters/ (installed as companion_adapters) between
    their own modules: module-level, function-local and ``if TYPE_CHECKING:`` alike. A
    function-local or type-only import is still a dependency: hiding one is how a cycle or
    an upward import goes unseen, so all of them count."""
    trees = {"companion": repo / "companion", "companion_adapters": repo / "adapters"}
    files: dict[str, Path] = {}
    for package, folder in trees.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # "from companion import platforms" imports the module companion.platforms
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                    for a in node.names
                ]
            graph[name] |= {t for t in targets if t in files and t != name}
    return graph


def layer_of(module: str) -> int | None:
    if module != "companion" and not module.startswith("companion."):
        return None
    rest = module.removeprefix("companion").removeprefix(".")
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(rest == p or (p and rest.startswith(p + ".")) for p in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imported in sorted(graph.items()):
        own = layer_of(module)
        for target in sorted(imported):
            theirs = layer_of(target)
            if own is not None and theirs is not None and theirs > own:
                found.append(f"{module} ({LAYERS[own][0]}) -> {target} ({LAYERS[theirs][0]})")
    return found


def surface_imports(graph: dict[str, set[str]]) -> list[str]:
    """Adapters import from the core only what ADAPTERS_MAY_IMPORT names; neither they nor
    the web server import companion.app."""
    found = []
    for module, imported in sorted(graph.items()):
        adapter = module.startswith("companion_adapters")
        web = module == "companion.web" or module.startswith("companion.web.")
        for target in sorted(imported):
            core = target.startswith("companion.") or target == "companion"
            if (adapter or web) and target == "companion.app":
                found.append(f"{module} -> {target}")
            elif adapter and core and target not in ADAPTERS_MAY_IMPORT:
                found.append(f"{module} -> {target}")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: each strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_import_graph_is_read_whole():
    graph = import_graph()
    assert "companion.dispatch" in graph["companion.anonymity"]
    assert "companion.platforms" in graph["companion_adapters.matrix.platform"]


def test_no_module_imports_a_higher_layer():
    assert upward_imports(import_graph()) == []


def test_adapters_and_the_web_use_only_the_gateway_side_of_the_core():
    assert surface_imports(import_graph()) == []


def test_there_is_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_architecture_checks_find_what_they_look_for():
    """Each check fails on a graph with the fault it looks for (the real code has none)."""
    graph = {name: set(targets) for name, targets in import_graph().items()}
    graph["companion.config"].add("companion.platforms")
    graph["companion.platforms"].add("companion.config")
    graph["companion_adapters.console.adapter"].add("companion.app")
    assert upward_imports(graph) == ["companion.config (base) -> companion.platforms (gateway)"]
    assert [c for c in cycles(graph) if {"companion.config", "companion.platforms"} <= set(c)]
    assert surface_imports(graph) == ["companion_adapters.console.adapter -> companion.app"]
