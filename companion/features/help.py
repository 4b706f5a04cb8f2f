"""`help`: generated from the registry, so it never disagrees with the commands."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from companion.commands import CommandSpec, Param, ParamType, Registry, UserError
from companion.events import Invocation, Kind, Reply
from companion.fmt import Md, bullets, code, fmt, join, lines
from companion.textparse import unknown_command_message

Usage = Callable[[CommandSpec, Registry], str]


class Help:
    def __init__(
        self,
        registry: Registry,
        prefixes: Mapping[str, str] | None = None,
        usage_styles: Mapping[str, Usage] | None = None,
    ) -> None:
        """``prefixes`` and ``usage_styles`` come from the platform registry
        (companion.platforms): what users type before a command on each platform, and
        how a platform whose users type commands differently (Discord's "/define term:")
        shows one; the others get "PREFIX name <arg>"."""
        self.registry = registry
        self.prefixes = dict(prefixes or {})
        self.usage_styles = dict(usage_styles or {})

    def usage(self, spec: CommandSpec, platform: str) -> str:
        style = self.usage_styles.get(platform)
        return style(spec, self.registry) if style else self.prefixes.get(platform, "") + spec.usage

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "help",
                "What I can do, or how to use one command",
                self.help,
                params=(
                    Param(
                        "command",
                        "A command name, e.g. define",
                        ParamType.TEXT,
                        required=False,
                        rest=True,
                        max_length=60,
                        complete=self.complete,
                    ),
                ),
                examples=("help", "help define"),
            )
        ]

    async def complete(self, inv: Invocation, partial: str) -> Sequence[str]:
        return [s.name for s in self.registry if s.name.startswith(partial.lower())][:25]

    async def help(self, inv: Invocation) -> Reply:
        name = inv.args.get("command")
        platform = inv.place.platform
        if name is None:
            return Reply(self.overview(inv.actor.is_moderator, platform), kind=Kind.HELP)
        spec = self.registry.get(str(name).strip().lstrip("!/"))
        if spec is None:
            group = self.registry.subcommands(str(name).strip().lower())
            if group:
                items = [fmt("{}: {}", code(self.usage(s, platform)), s.description) for s in group]
                return Reply(bullets(items), kind=Kind.HELP)
            raise UserError(unknown_command_message(str(name), self.registry))
        text = self.detail(spec, platform)
        group = [s for s in self.registry.subcommands(spec.name) if s is not spec]
        if group:
            also = bullets(
                fmt("{}: {}", code(self.usage(s, platform)), s.description) for s in group
            )
            text = lines(text, "", "Also:", also)
        return Reply(text, kind=Kind.HELP)

    def overview(self, moderator: bool, platform: str) -> Md:
        prefix = self.prefixes.get(platform, "")
        items = []
        for spec in self.registry:
            if spec.moderator_only and not moderator:
                continue
            mark = " (moderators)" if spec.moderator_only else ""
            items.append(fmt("{}: {}{}", code(self.usage(spec, platform)), spec.description, mark))
        return lines(
            fmt("**What I can do**"),
            bullets(items),
            fmt("\nType {} for details.", code(f"{prefix}help <command>")),
        )

    def detail(self, spec: CommandSpec, platform: str) -> Md:
        prefix = self.prefixes.get(platform, "")
        parts: list[object] = [code(self.usage(spec, platform)), spec.description]
        if spec.moderator_only:
            parts.append("Only moderators can use it.")
        for param in spec.params:
            optional = "" if param.required else " (optional)"
            parts.append(fmt("- {}{}: {}", param.name, optional, param.description))
        if spec.aliases:
            parts.append(fmt("Also: {}", join(code(a) for a in spec.aliases)))
        if spec.examples:
            parts.append(fmt("Examples: {}", join(code(prefix + e) for e in spec.examples)))
        return lines(*parts)
