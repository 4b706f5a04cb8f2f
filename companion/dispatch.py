"""From an Invocation to a Reply: permission check, argument check, handler, errors.

A :class:`UserError` becomes its message. Anything else is logged with its traceback and
answered with a short apology, so nothing a user types can crash the bot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from companion import textparse
from companion.commands import Registry, UserError
from companion.events import Actor, Invocation, Place, Reply
from companion.metrics import Metrics

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on my side. It has been logged; please try again later."
MAX_CHOICES = 25


class Dispatcher:
    def __init__(self, registry: Registry, metrics: Metrics | None = None) -> None:
        self.registry = registry
        self.metrics = metrics or Metrics()

    async def run_text(self, line: str, actor: Actor, place: Place, at: datetime) -> Reply:
        """Parse a text command (prefix already removed) and run it."""
        started = time.perf_counter()
        try:
            parsed = textparse.parse(line, self.registry)
        except UserError as error:
            self._done("unknown", "unknown", place, started)  # never the typed name: a label
            return Reply(str(error), private=False)
        return await self.dispatch(Invocation(parsed.spec.name, parsed.args, actor, place, at))

    async def dispatch(self, inv: Invocation) -> Reply:
        """Run a command whose arguments are raw (strings) or already typed."""
        started = time.perf_counter()
        spec = self.registry.get(inv.command)
        if spec is None:
            self._done("unknown", "unknown", inv.place, started)
            return Reply(textparse.unknown_command_message(inv.command, self.registry))
        try:
            if spec.moderator_only and not inv.actor.is_moderator:
                raise UserError(f"Only moderators can use `{spec.name}`.")
            if inv.place.is_direct and not spec.in_direct:
                raise UserError(f"`{spec.name}` works inside a community, not in a direct chat.")
            bound = replace(inv, command=spec.name, args=spec.bind(inv.args))
            reply = await spec.handler(bound)
        except UserError as error:
            self._done(spec.name, "refused", inv.place, started)
            return Reply(str(error), private=spec.private)
        except Exception:
            log.exception(
                "command %r failed (place %s)",
                spec.name,
                inv.place,
                extra={"community": inv.place.community_id, "command": spec.name},
            )
            self._done(spec.name, "error", inv.place, started)
            return Reply(APOLOGY, private=spec.private)
        if spec.private and not reply.private:
            reply = replace(reply, private=True)
        self._done(spec.name, "ok", inv.place, started)
        return reply

    def _done(self, name: str, outcome: str, place: Place, started: float) -> None:
        seconds = time.perf_counter() - started
        self.metrics.command(name, outcome, seconds)
        log.info(
            "command %s: %s in %.1f ms",
            name,
            outcome,
            seconds * 1000,
            extra={
                "community": place.community_id,
                "command": name,
                "outcome": outcome,
                "ms": round(seconds * 1000, 1),
            },
        )

    async def complete(self, inv: Invocation, param_name: str, partial: str) -> Sequence[str]:
        """Suggestions for one parameter (Discord autocomplete, "did you mean" elsewhere)."""
        spec = self.registry.get(inv.command)
        if spec is None:
            return []
        param = next((p for p in spec.params if p.name == param_name), None)
        if param is None:
            return []
        if param.choices:
            return [c for c in param.choices if c.startswith(partial.lower())][:MAX_CHOICES]
        if param.complete is None:
            return []
        try:
            return list(await param.complete(inv, partial[:100]))[:MAX_CHOICES]
        except Exception:
            log.exception("completion for %r %r failed", spec.name, param_name)
            return []
