"""Optional extras: what to install when a config needs a module this install lacks.

Each optional platform or store imports its library only when a config uses it, so a missing
one shows up as a ``ModuleNotFoundError`` deep in the start. The command line turns it into
one line naming the extra (``companion.cli.main``), for every command alike: ``run``,
``doctor``, ``db``. A module not listed here is a real bug and keeps its traceback.
"""

from __future__ import annotations

# The top-level module each extra brings (pyproject.toml [project.optional-dependencies]).
EXTRAS = {
    "asyncpg": "postgresql",
    "discord": "discord",
    "nio": "matrix",
    "vodozemac": "e2e",
    "olm": "e2e",
}
NEEDED_FOR = {
    "postgresql": "a PostgreSQL [storage] url",
    "discord": "the [discord] table",
    "matrix": "the [matrix] table",
    "e2e": "encrypted Matrix rooms",
}


def missing_extra(error: ImportError) -> str | None:
    """One line saying which extra to install, when ``error`` is a missing optional module;
    None for any other import failure."""
    module = (error.name or "").partition(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return None
    return (
        f"{NEEDED_FOR[extra]} needs the {module} module, which is not installed: "
        f"pip install 'companion[{extra}]'"
    )
