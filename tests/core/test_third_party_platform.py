"""A platform added as a third party adds one: a package of its own, found through its entry
point in the ``companion.platforms`` group, nothing in Companion edited. Served by the
`companion` command, it answers commands, gets a scheduled reflection through its port,
and shows in `doctor` and in `help`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLOCK = Path(__file__).with_name("skipping_clock")  # 12:00 UTC, skipping to what is due

PLATFORM = '''"""companion-fake: a platform for Companion declared from outside it."""

from companion.platforms import DoctorContext, Platform
from companion.checklist import Check, failed, passed


async def serve(gateway, settings):
    from companion_fake.adapter import run

    await run(gateway, settings)


def check(section):
    for key in ("inbox", "outbox"):
        if not isinstance(section.get(key), str):
            from companion.config import ConfigError

            raise ConfigError(f"[fake] {key} must be a file name.")


async def doctor(context: DoctorContext) -> list[Check]:
    from pathlib import Path

    inbox = Path(context.settings.section("fake")["inbox"])
    if inbox.exists():
        return [passed("fake inbox", f"{inbox.name} is there")]
    return [failed("fake inbox", f"no {inbox.name}", "write the commands into it")]


PLATFORM = Platform(
    "fake",
    prefix="%",
    serve=serve,
    settings=("inbox", "outbox"),
    check=check,
    doctor=doctor,
    description="a file of commands in, a file of answers and posts out",
)
'''

ADAPTER = '''"""The fake platform's adapter: each line of the inbox is a command from one moderator;
answers and the posts the scheduler sends are written to the outbox, one JSON object a line.
It stops once a scheduled post has arrived (or after 30 seconds)."""

import asyncio
import json
from pathlib import Path

from companion.events import Actor, MessageRef, Place

HERE = Place("fake", "fake:community", "fake:room")
MOD = Actor("fake:mod", "Moderator", is_moderator=True)


class FakePort:
    def __init__(self, outbox):
        self.outbox = outbox
        self.posted = asyncio.Event()

    def write(self, **record):
        with self.outbox.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\\n")

    async def post(self, place, text, *, key, kind=None):
        self.write(what="post", room=place.room_id, text=str(text), kind=kind.value)
        self.posted.set()
        return MessageRef(place, key)


async def run(gateway, settings):
    table = settings.section("fake")
    port = FakePort(Path(table["outbox"]))
    await gateway.attach("fake", port)
    try:
        for line in Path(table["inbox"]).read_text(encoding="utf-8").splitlines():
            reply = await gateway.handle_text(line, MOD, HERE)
            port.write(what="reply", line=line, text=reply.text if reply else None)
        await asyncio.wait_for(port.posted.wait(), 30)
    finally:
        gateway.detach("fake", port)
'''


def install_fake_platform(site: Path) -> None:
    """What pip would leave after installing companion-fake: its files and its metadata."""
    package = site / "companion_fake"
    package.mkdir()
    (package / "__init__.py").write_text(PLATFORM)
    (package / "adapter.py").write_text(ADAPTER)
    info = site / "companion_fake-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: companion-fake\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[companion.platforms]\nfake = companion_fake:PLATFORM\n"
    )


def companion(*args: str, site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(CLOCK), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "companion", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.slow
def test_a_platform_from_another_package_is_served_posted_to_helped_and_checked(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install_fake_platform(site)
    inbox, outbox = tmp_path / "inbox.txt", tmp_path / "outbox.jsonl"
    inbox.write_text("help\nhelp define\ndefine allyship\nschedule reflection 13:00\n")
    config = tmp_path / "companion.toml"
    config.write_text(
        f'[storage]\npath = "bot.db"\n\n[fake]\ninbox = "{inbox}"\noutbox = "{outbox}"\n'
    )

    checked = companion("doctor", "--config", str(config), site=site, cwd=tmp_path)
    assert "ok    fake inbox: inbox.txt is there" in checked.stdout, checked.stdout

    served = companion("run", "--config", str(config), site=site, cwd=tmp_path)
    assert served.returncode == 0, served.stderr
    records = [json.loads(line) for line in outbox.read_text().splitlines()]
    replies = {r["line"]: r["text"] for r in records if r["what"] == "reply"}
    assert "`%define <term>`" in replies["help"]  # help shows the platform's own prefix
    assert replies["help define"].startswith("`%define <term>`")
    assert "allyship" in replies["define allyship"].lower()
    assert "13:00" in replies["schedule reflection 13:00"]
    [post] = [r for r in records if r["what"] == "post"]
    assert post["room"] == "fake:room" and post["kind"] == "reflection"
    assert post["text"].strip()
