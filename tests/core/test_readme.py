"""The README's promises: the command table is the registry's, CI runs its test command."""

import re
from pathlib import Path

from companion.cli import commands_markdown

ROOT = Path(__file__).resolve().parents[2]


async def test_the_command_table_is_generated_from_the_registry():
    readme = (ROOT / "README.md").read_text()
    table = re.search(r"<!-- commands:start -->\n(.*?)\n<!-- commands:end -->", readme, re.S)
    assert table is not None
    assert table.group(1) == await commands_markdown(), "run `companion commands` into README"


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    test_command = next(c for c in commands if "pytest" in c)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci
