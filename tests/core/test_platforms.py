"""The platform registry: a new surface is declared in one place and is served, shown in
help with its prefix and given its scheduled posts, with nothing else to change."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import timedelta

import pytest

from companion import cli, platforms
from companion.config import ConfigError, Settings
from companion.events import Actor, Place, Reply
from companion.gateway import Gateway
from companion.platforms import Platform, load_settings
from tests.conftest import START, say
from tests.fakes import RecordingPort

MOD = Actor("fake:mod", "Moderator", is_moderator=True)
HERE = Place("fake", "fake:community", "fake:room")


async def test_a_fake_platform_registered_in_one_place_is_served_helped_and_posted_to(
    tmp_path, small, clock
):
    seen: dict[str, Reply | None] = {}
    port = RecordingPort(clock=clock)

    async def serve(gateway: Gateway, settings: Settings) -> None:
        await gateway.attach("fake", port)
        try:
            for line in ("help", "help define", "schedule reflection 13:00"):
                seen[line] = await gateway.handle_text(line, MOD, HERE)
            clock.set(START + timedelta(hours=1))  # 13:00: the scheduler's loop wakes
            for _ in range(500):
                if port.sent:
                    break
                await asyncio.sleep(0.01)
        finally:
            gateway.detach("fake", port)

    platforms.register(Platform("fake", prefix="%", serve=serve, prefix_setting="prefix"))
    try:
        path = tmp_path / "companion.toml"
        path.write_text('[storage]\npath = "companion.db"\n\n[fake]\nprefix = "%%"\n')
        settings = load_settings(path)
        assert settings.adapters == ("fake",)
        assert await cli._serve(settings, clock=clock, content=small) == 0
    finally:
        platforms.unregister("fake")

    overview, detail = seen["help"], seen["help define"]
    assert overview is not None and "`%%define <term>`" in overview.text
    assert "`%%help <command>`" in overview.text
    assert detail is not None and detail.text.startswith("`%%define <term>`")
    assert [(s.kind, s.place) for s in port.sent] == [("post", HERE)]


@pytest.mark.parametrize(
    ("platform", "expected"),
    [("matrix", "`!define <term>`"), ("discord", "`/define term:<term>`"), ("console", "`define")],
)
async def test_help_for_one_command_shows_how_it_is_typed_on_each_platform(app, platform, expected):
    reply = await say(app, "help define", place=Place(platform, "c:one", "r:one"))
    assert reply.text.startswith(expected), reply.text


def test_config_tables_come_from_the_registry(tmp_path):
    path = tmp_path / "companion.toml"
    path.write_text("[storage]\n")
    with pytest.raises(ConfigError, match=r"\[console\], \[matrix\], \[discord\]"):
        load_settings(path)
    path.write_text('[matrix]\nhomeserver = "nope"\n')  # each platform checks its own table
    with pytest.raises(ConfigError, match="homeserver"):
        load_settings(path)


def test_the_registry_imports_no_platform_library():
    code = (
        "import sys\nfrom companion import platforms\n"
        "names = platforms.names()\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('discord', 'nio'))\n"
        "print(names, leaked)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['console', 'matrix', 'discord'] []"
