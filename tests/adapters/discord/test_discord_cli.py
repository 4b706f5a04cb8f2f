"""`companion run --config FILE` starts the Discord adapter when the file has a [discord] table."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from companion.cli import _serve, main
from companion.platforms import load_settings
from companion.ports import Shards
from tests.discord_double import DiscordDouble

pytestmark = pytest.mark.discord


def write_config(tmp_path: Path, discord_lines: list[str]) -> Path:
    path = tmp_path / "companion.toml"
    body = ["[storage]", 'path = "companion.db"', "", "[discord]", *discord_lines]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path


def test_run_without_a_token_says_which_variable_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COMPANION_DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("COMPANION_DISCORD_TOKEN_FILE", raising=False)
    config = write_config(tmp_path, ["moderator_role_ids = []"])

    assert main(["run", "--config", str(config)]) == 2
    assert "COMPANION_DISCORD_TOKEN is not set" in capsys.readouterr().err


async def test_run_serves_slash_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with DiscordDouble() as double:
        guild = double.add_default_guild()
        monkeypatch.setenv("COMPANION_DISCORD_TOKEN", double.token)
        config = write_config(
            tmp_path,
            [f'api_base = "{double.api_base}"', f'gateway_url = "{double.gateway_url}"'],
        )
        serving = asyncio.create_task(_serve(load_settings(config)))
        try:
            # Starting includes importing discord.py and loading the shipped content: seconds
            # on a cold first run (no bytecode yet) or a busy machine. So wait for the event,
            # not a fixed 5 s, and fail at once if serving itself fails.
            ready = asyncio.create_task(double.wait_ready(timeout=120))
            await asyncio.wait({ready, serving}, return_when=asyncio.FIRST_COMPLETED)
            if serving.done():
                ready.cancel()
                serving.result()  # raises what stopped it
                pytest.fail("serving ended before the bot identified")
            await ready
            record = await double.slash("define", {"term": "allyship"}, user=guild.member)
            await double.wait_for_response(record)
            assert record.original is not None
            assert "an active and consistent practice" in record.original.content
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(serving, 15)  # generous: a busy CI machine
        assert (tmp_path / "companion.db").exists()
        double.assert_clean()


def test_the_example_config_documents_real_settings(tmp_path: Path) -> None:
    from companion_adapters.discord import DiscordConfig

    example = Path(__file__).resolve().parents[3] / "config.example.toml"
    text = example.read_text(encoding="utf-8")
    assert "discord" not in load_settings(example).adapters  # off unless enabled
    # Every commented-out setting of [discord], switched on, is one the adapter knows.
    start = text.index("\n[discord]\n") + 1
    end = text.find("\n[", start)
    section = text[start : end if end > 0 else len(text)]
    switched_on = [
        line.removeprefix("# ")
        for line in section.splitlines()
        if line.startswith("# ") and " = " in line.split("#")[1]
    ]
    assert {line.split(" = ")[0] for line in switched_on} == {
        "test_guild_id",
        "api_base",
        "gateway_url",
        "shard_count",
        "shard_ids",
        "forum_tags",
    }
    path = tmp_path / "companion.toml"
    on = section.replace("enabled = false", "enabled = true").rstrip("\n")
    path.write_text(text.replace(section, "\n".join([on, *switched_on]) + "\n"))
    settings = load_settings(path)
    assert "discord" in settings.adapters
    config = DiscordConfig.from_settings(settings)
    assert config.test_guild_id == 123456789012345678
    assert config.serving_shards == Shards(2, frozenset({0}))
    assert config.forum_tags == {123456789012345678: "Discussion"}
    assert config.api_base == "http://127.0.0.1:8080/api/v10"
