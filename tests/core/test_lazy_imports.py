"""A part the config leaves off costs no import (issue 24): each module below adds start-up
time and megabytes of RSS to every bot that does not use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# module -> what switches it on
OPTIONAL = {
    "prometheus_client": "[metrics] (a scrape of /metrics)",
    "jinja2": "[web] (the dashboard's templates)",
    "aiohttp.web": "[web] or [metrics] (an HTTP server)",
    "asyncpg": "[storage] url = postgresql://...",
    "rapidfuzz": "a near miss (a typo in a term or command)",
    "icalendar": "a calendar feed being read (the events' iCalendar)",
    "dateutil": "a daily or weekly schedule's next time being worked out",
    "html": "nothing (companion.markup escapes with html.escape's table, not its entities)",
}


def loaded_after(code: str, tmp_path: Path, stdin: str = "") -> tuple[list[str], str]:
    """Run ``code`` in a fresh interpreter; which OPTIONAL modules it loaded, and its output."""
    script = (
        f"{code}\nimport sys\n"
        f"print('LOADED', sorted(m for m in {sorted(OPTIONAL)!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("LOADED "), out.stdout
    return eval(last[len("LOADED ") :]), out.stdout  # our own print of a list


@pytest.mark.parametrize("command", ["ask", "console"])
def test_the_terminal_answers_a_command_without_the_optional_parts(
    tmp_path: Path, command: str
) -> None:
    """`companion ask define allyship`, and `companion console` (the path `companion run`
    serves on: the [metrics] and [web] checks, the reload handler) typed the same."""
    args = ["define", "allyship"] if command == "ask" else []
    code = (
        "from companion.cli import main\n"
        f"main([{command!r}, '--db', {str(tmp_path / 'c.db')!r}, *{args!r}])\n"
    )
    loaded, output = loaded_after(code, tmp_path, stdin="define allyship\nquit\n")
    assert "an active and consistent practice" in output, output  # the command was answered
    assert loaded == [], {m: OPTIONAL[m] for m in loaded}


def test_a_matrix_bot_starts_and_answers_without_the_optional_parts(tmp_path: Path) -> None:
    """What `companion run` does with a [matrix] config, up to the first command, without
    the network: build the app, the [metrics] and [web] checks, the adapter's modules."""
    (tmp_path / "bot.toml").write_text(
        '[storage]\npath = "bot.db"\n\n'
        '[matrix]\nhomeserver = "http://127.0.0.1:1"\nuser_id = "@bot:localhost"\n'
    )
    code = (
        "import asyncio\n"
        "from companion import health\n"
        "from companion.app import build\n"
        "from pathlib import Path\n"
        "from companion.platforms import load_settings\n"
        "from companion.events import Actor, Place\n"
        "from companion.config import WebSettings\n"
        "import companion_adapters.matrix.adapter\n"
        "async def main():\n"
        "    settings = load_settings(Path('bot.toml'))\n"
        "    app = await build(settings)\n"
        "    assert await health.start(app.metrics, app.scheduler, settings, ()) is None\n"
        "    assert not WebSettings.from_settings(settings).enabled\n"
        "    place = Place('matrix', '!room:localhost', '!room:localhost')\n"
        "    actor = Actor('@member:localhost', 'Member')\n"
        "    now = app.clock.now()\n"
        "    reply = await app.dispatcher.run_text('define allyship', actor, place, now)\n"
        "    print(reply.text)\n"
        "    await app.close()\n"
        "asyncio.run(main())\n"
    )
    loaded, output = loaded_after(code, tmp_path)
    assert "allyship" in output.lower(), output
    assert loaded == [], {m: OPTIONAL[m] for m in loaded}
