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
