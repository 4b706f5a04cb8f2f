"""The registry -> Discord command tree mapping (pure data, no client)."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.app import build
from companion.commands import CommandSpec, Param, ParamType
from companion.config import Settings
from companion.content import Content
from companion.events import Invocation, Reply
from companion_adapters.discord.tree import BARE, command_paths, render_tree, shorten, slash_usage
from tests.discord_double.validation import validate_commands

pytestmark = pytest.mark.discord


async def nothing(inv: Invocation) -> Reply:
    return Reply("")


def spec(name: str, *params: Param, **kw: object) -> CommandSpec:
    return CommandSpec(name, f"The {name} command", nothing, params=params, **kw)  # type: ignore[arg-type]


def test_one_word_is_a_command_two_words_a_subcommand_and_a_bare_group_name_is_show() -> None:
    paths = command_paths(["define", "prompt", "prompt add", "schedule list", "terms"])
    assert paths == {
        "define": ("define",),
        "prompt": ("prompt", BARE),
        "prompt add": ("prompt", "add"),
        "schedule list": ("schedule", "list"),
        "terms": ("terms",),
    }


def test_names_that_would_collide_or_that_discord_refuses_are_errors() -> None:
    with pytest.raises(ValueError, match="both be /prompt show"):
        command_paths(["prompt", "prompt show", "prompt add"])
    with pytest.raises(ValueError, match="not a valid Discord name"):
        command_paths(["what?"])
    with pytest.raises(ValueError, match="not a valid Discord name"):
        command_paths(["x" * 33])


def test_groups_and_routes() -> None:
    tree = render_tree([spec("prompt"), spec("prompt add"), spec("define")])
    prompt = next(c for c in tree.commands if c["name"] == "prompt")
    assert [o["name"] for o in prompt["options"]] == ["show", "add"]  # show first
    assert all(o["type"] == 1 for o in prompt["options"])
    assert prompt["description"] == "Prompt: show, add"
    assert tree.routes[("prompt", "show")].spec.name == "prompt"
    assert tree.routes[("prompt", "add")].spec.name == "prompt add"
    assert tree.routes[("define", None)].spec.name == "define"


def test_default_permissions_only_where_every_member_is_for_moderators() -> None:
    tree = render_tree(
        [
            spec("club start", moderator_only=True),
            spec("club stop", moderator_only=True),
            spec("schedule add", moderator_only=True),
            spec("schedule list"),
            spec("ban", moderator_only=True),
            spec("define"),
        ]
    )
    perms = {c["name"]: c.get("default_member_permissions") for c in tree.commands}
    assert perms == {"club": "32", "schedule": None, "ban": "32", "define": None}


def test_dm_contexts_from_in_direct_only_for_global_commands() -> None:
    specs = [spec("define"), spec("prompt"), spec("prompt add", in_direct=False)]
    specs.append(spec("timezone", in_direct=False))
    contexts = {c["name"]: c["contexts"] for c in render_tree(specs).commands}
    assert contexts == {"define": [0, 1], "prompt": [0, 1], "timezone": [0]}
    guild_only = render_tree(specs, global_scope=False).commands
    assert all("contexts" not in c and "integration_types" not in c for c in guild_only)


def test_param_types_limits_choices_and_autocomplete() -> None:
    async def complete(inv: Invocation, partial: str) -> list[str]:
        return []

    many = tuple(f"c{i}" for i in range(30))
    command = spec(
        "demo",
        Param("n", "a number", ParamType.INT, min_value=1, max_value=4),
        Param("kind", "do or dont", choices=("do", "dont")),
        Param("pick", "one of many", choices=many),
        Param("term", "x" * 150, ParamType.TEXT, max_length=10_000, complete=complete),
        Param("note", "a note", ParamType.TEXT, required=False, max_length=200),
    )
    [rendered] = render_tree([command]).commands
    n, kind, pick, term, note = rendered["options"]
    assert n == {
        "type": 4,
        "name": "n",
        "description": "a number",
        "required": True,
        "min_value": 1,
        "max_value": 4,
    }
    assert kind["type"] == 3 and kind["choices"] == [
        {"name": "do", "value": "do"},
        {"name": "dont", "value": "dont"},
    ]
    assert "autocomplete" not in kind
    assert pick["autocomplete"] is True and "choices" not in pick  # over 25: typed, filtered
    assert term["autocomplete"] is True and term["max_length"] == 6000
    assert len(term["description"]) == 100 and term["description"].endswith("…")
    assert note["required"] is False and note["max_length"] == 200
    assert not validate_commands(render_tree([command]).commands)


def test_shorten() -> None:
    assert shorten("short  text\n") == "short text"
    assert shorten("a" * 100) == "a" * 100
    assert shorten("word " * 30) == ("word " * 20).rstrip()[:99].rstrip() + "…"
    assert len(shorten("b" * 500)) == 100


async def test_the_full_registry_renders_within_discords_limits(
    tmp_path: Path, shipped: Content
) -> None:
    app = await build(Settings(db_path=tmp_path / "c.db"), content=shipped)
    try:
        for scope in (True, False):
            tree = render_tree(app.registry, global_scope=scope)
            errors = validate_commands(tree.commands)
            assert not errors, errors.body()
            assert {r.spec.name for r in tree.routes.values()} == {s.name for s in app.registry}
    finally:
        await app.close()


def test_help_on_discord_shows_slash_usage():
    async def handler(inv: Invocation) -> Reply:  # pragma: no cover - never called
        raise AssertionError

    spec = CommandSpec(
        "define", "d", handler, params=(Param("term", "t", ParamType.TEXT, rest=True),)
    )
    prompt = CommandSpec("prompt", "p", handler)
    prompt_add = CommandSpec("prompt add", "p", handler, params=(Param("text", "t"),))
    paths = command_paths(["define", "prompt", "prompt add"])
    assert slash_usage(spec, paths["define"]) == "/define term:<term>"
    assert slash_usage(prompt, paths["prompt"]) == "/prompt show"
    assert slash_usage(prompt_add, paths["prompt add"]) == "/prompt add text:<text>"
