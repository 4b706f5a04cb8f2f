"""From an Invocation to a Reply: permission check, argument check, handler, errors.

A :class:`UserError` becomes its message. Anything else is logged with its traceback and
answered with a short apology, so nothing a user types can crash the bot. A member over the
flood limit (:mod:`companion.flood`) is told once, then gets ``None``: the adapter says
nothing at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from companion import textparse
from companion.commands import APOLOGY, Registry, UsageError, UserError
from companion.events import Actor, Invocation, Kind, Place, Reply
from companion.flood import FloodGate, Verdict
from companion.fmt import code, fmt
from companion.metrics import Metrics

log = logging.getLogger(__name__)

MAX_CHOICES = 25


class Dispatcher:
    def __init__(
        self, registry: Registry, gate: FloodGate | None = None, metrics: Metrics | None = None
    ) -> None:
        self.registry = registry
        self.gate = gate
        self.metrics = metrics or Metrics()

    async def run_text(self, line: str, actor: Actor, place: Place, at: datetime) -> Reply | None:
        """Parse a text command (prefix already removed) and run it; None: say nothing."""
        verdict = self._verdict(actor, place)
        if verdict is not Verdict.ANSWER:
            return self._slow_down(verdict, actor, place)
        started = time.perf_counter()
        try:
            parsed = textparse.parse(line, self.registry)
        except UserError as error:
            self._done("unknown", "unknown", place, started)  # never the typed name: a label
            return Reply(error.text, private=False, kind=_kind_of(error))
        return await self._run(Invocation(parsed.spec.name, parsed.args, actor, place, at))

    async def dispatch(self, inv: Invocation) -> Reply | None:
        """Run a command whose arguments are raw (strings) or already typed; None: say
        nothing (the member is over the flood limit and was told so already)."""
        verdict = self._verdict(inv.actor, inv.place)
        if verdict is not Verdict.ANSWER:
            return self._slow_down(verdict, inv.actor, inv.place)
        return await self._run(inv)

    def _verdict(self, actor: Actor, place: Place) -> Verdict:
        return Verdict.ANSWER if self.gate is None else self.gate.check(actor, place)

    def _slow_down(self, verdict: Verdict, actor: Actor, place: Place) -> Reply | None:
        """The one notice for the first command over the limit; nothing for the rest."""
        if verdict is not Verdict.WARN or self.gate is None:
            return None
        # No member id here: the README's privacy section says which ids the logs hold.
        log.info("flood limit: a member in %s told to slow down", place.community_id)
        return Reply(self.gate.too_fast(actor, place), private=True, kind=Kind.NOTICE)

    def held_back(self, actor: Actor, place: Place) -> Reply:
        """What a platform that must answer every command (Discord's slash commands) says,
        privately, to one that ``dispatch`` dropped over the flood limit."""
        text = self.gate.still_too_fast(actor, place) if self.gate is not None else ""
        return Reply(text or "Still too fast.", private=True, kind=Kind.NOTICE)

    async def _run(self, inv: Invocation) -> Reply:
        started = time.perf_counter()
        spec = self.registry.get(inv.command)
        if spec is None:
            self._done("unknown", "unknown", inv.place, started)
            return Reply(
                textparse.unknown_command_message(inv.command, self.registry), kind=Kind.ERROR
            )
        try:
            if spec.moderator_only and not inv.actor.is_moderator:
                raise UserError(fmt("Only moderators can use {}.", code(spec.name)))
            if inv.place.is_direct and not spec.in_direct:
                raise UserError(
                    fmt("{} works inside a community, not in a direct chat.", code(spec.name))
                )
            bound = Invocation(spec.name, spec.bind(inv.args), inv.actor, inv.place, inv.at)
            reply = await spec.handler(bound)
        except UserError as error:
            self._done(spec.name, "refused", inv.place, started)
            return Reply(error.text, private=spec.private, kind=_kind_of(error))
        except Exception:
            log.exception(
                "command %r failed (place %s)",
                spec.name,
                inv.place,
                extra={"community": inv.place.community_id, "command": spec.name},
            )
            self._done(spec.name, "error", inv.place, started)
            return Reply(APOLOGY, private=spec.private, kind=Kind.APOLOGY)
        if spec.private and not reply.private:
            reply = replace(reply, private=True)
        self._done(spec.name, "ok", inv.place, started)
        return reply

    def _done(self, name: str, outcome: str, place: Place, started: float) -> None:
        seconds = time.perf_counter() - started
        self.metrics.command(name, outcome, seconds)
        if not log.isEnabledFor(logging.INFO):
            return  # the line and its fields cost more than the command (issue 24)
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
        """Suggestions for one parameter (Discord autocomplete, "did you mean" elsewhere);
        none, without looking, for a member over the flood limit (typing does not count)."""
        spec = self.registry.get(inv.command)
        if spec is None or (self.gate is not None and self.gate.holding(inv.actor, inv.place)):
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


def _kind_of(error: UserError) -> Kind:
    return Kind.USAGE_ERROR if isinstance(error, UsageError) else Kind.ERROR
