"""Commands the bot mentions, shown the way members type them where the text is read.

What the bot says names commands in code spans: a challenge day's "Look up `define
allyship`", a poll's "Vote with `vote 1`", a reminder's `event rsvp 3 no`, a usage line.
Features and content files write them bare, once; :class:`Mentions` is the one step that
gives each the command prefix of the platform the text goes to (``!define allyship`` on
Matrix, or its ``[matrix] command_prefix``; ``/define allyship`` on Discord; the bare word in
the terminal) as it leaves the core: every reply (companion.app's gateway) and every text a
port is given (:class:`companion.ports.Ports` renders it before the call).

A code span is a mention when it starts with a registered command: a one-word name or alias,
the group of two-word commands ("challenge" of "challenge done"), or a two-word name or
alias ("what is"), resolved against the registry, so `maybe`, `weekly thu 19:00` or a
prompt id stay as they are. A span that already carries a prefix (``!help``, ``/define
term:``) starts with no command name and is left alone, so rendering twice changes nothing.
Escaped text (member text: ``\\```) holds no code span.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import overload

from companion.commands import Registry
from companion.fmt import Md, prefix_commands


class Mentions:
    """Command mentions in the core's Markdown, rendered per platform."""

    def __init__(self, registry: Registry, prefixes: Mapping[str, str]) -> None:
        """``prefixes``: what members type before a command, by platform (from the platform
        registry, with a configured prefix such as ``[matrix] command_prefix`` applied)."""
        self.registry = registry
        self.prefixes = dict(prefixes)
        self._singles: frozenset[str] = frozenset()  # one-word names, aliases and groups
        self._pairs: frozenset[str] = frozenset()  # two-word names and aliases
        self._known = -1  # how many commands they were built from

    def prefix(self, platform: str) -> str:
        return self.prefixes.get(platform, "")

    def is_command(self, span: str) -> bool:
        """Whether a code span's text starts with a command: its one-word name or alias, a
        group of two-word commands ("challenge"), or a two-word name or alias ("what is")."""
        words = span.lower().split(maxsplit=2)
        if not words:
            return False
        if self._known != len(self.registry):  # features register their commands at start
            names = [name.split() for name in self.registry.names()]
            groups = {spec.name.split()[0] for spec in self.registry}
            self._singles = frozenset({n[0] for n in names if len(n) == 1} | groups)
            self._pairs = frozenset(" ".join(n) for n in names if len(n) == 2)
            self._known = len(self.registry)
        return words[0] in self._singles or " ".join(words[:2]) in self._pairs

    @overload
    def render(self, text: Md, platform: str) -> Md: ...

    @overload
    def render(self, text: str, platform: str) -> str: ...

    def render(self, text: str, platform: str) -> str:
        """``text`` with each command mention prefixed for ``platform``: Markdown stays
        ``Md``; a plain ``str`` (a scheduled event's description) stays plain."""
        return prefix_commands(text, self.prefix(platform), self.is_command)
