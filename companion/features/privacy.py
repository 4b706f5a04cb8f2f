"""`mydata` and `forget me`: every member can see and delete what Companion keeps on them."""

from __future__ import annotations

from companion.commands import CommandSpec, Param
from companion.events import Invocation, Kind, Reply
from companion.fmt import bullets, code, fmt, lines, stored
from companion.store import Store


class Privacy:
    def __init__(self, store: Store) -> None:
        self.store = store

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "mydata",
                "Everything Companion keeps about you (only you see it)",
                self.mydata,
                private=True,
            ),
            CommandSpec(
                "forget me",
                "Delete your journal, reading progress, RSVPs and votes, and your name everywhere",
                self.forget,
                params=(
                    Param(
                        "confirm", "Type confirm to go ahead", required=False, choices=("confirm",)
                    ),
                ),
                private=True,
                examples=("forget me", "forget me confirm"),
            ),
        ]

    async def mydata(self, inv: Invocation) -> Reply:
        data = await self.store.members.everything(inv.actor.id)
        suggestions = data.suggestions
        parts: list[object] = [
            fmt("**What Companion keeps about you** (only you can see this)"),
            fmt("Your id on this platform: {}", code(inv.actor.id)),
            fmt("\n**Journal** ({} entries)", len(data.journal)),
            bullets((fmt("{}: {}", r.day, r.text) for r in data.journal), empty="none"),
            fmt("\n**Reading progress** ({})", len(data.progress)),
            bullets((fmt("{}: up to chapter {}", t, c) for t, c in data.progress), empty="none"),
            fmt("\n**Challenges you joined** ({})", len(data.challenges)),
            bullets(
                (
                    fmt(
                        "{} ({}): {}, reminders {}, review questions {}, checked in: {}",
                        c.title,
                        c.status,
                        f"joined on day {c.joined_day}" if c.joined_day else "left",
                        "on" if c.remind else "off",
                        "on" if c.review else "off",
                        ", ".join(str(d) for d in c.checked) or "none",
                    )
                    for c in data.challenges
                ),
                empty="none",
            ),
            fmt("\n**Suggestions under your name** ({})", len(suggestions)),
            bullets(
                (fmt("#{} {}, {}, {}", i, k, s, at[:10]) for i, k, s, at in suggestions),
                empty="none",
            ),
            "Anonymous questions are not listed: they are stored without your name.",
            fmt("\n**Prompts under your name** ({})", len(data.prompts)),
            bullets((fmt("{} {}", code(i), t) for i, t in data.prompts), empty="none"),
            fmt("\n**Messages to you** ({})", len(data.notices)),
            bullets(
                (fmt("{}: {}", n.created_at[:10], stored(n.text)) for n in data.notices),
                empty="none",
            ),
        ]
        rsvps = await self.store.events.member_rsvps(inv.actor.id)
        votes = await self.store.polls.member_votes(inv.actor.id)
        parts.append(fmt("\n**Your answers to events** ({})", len(rsvps)))
        parts.append(bullets((fmt("#{} {}: {}", i, t, a) for i, t, a in rsvps), empty="none"))
        parts.append(fmt("\n**Your votes in polls** ({})", len(votes)))
        parts.append(
            bullets((fmt("#{} {}: answer {}", i, q, n) for i, q, n in votes), empty="none")
        )
        if data.created:
            parts.append(fmt("\n**Things you set up or reviewed** ({})", len(data.created)))
            parts.append(bullets(fmt("{}: {}", what, detail) for what, detail in data.created))
        parts.append(fmt("\n`forget me` deletes your journal and progress and removes your name."))
        return Reply(lines(*parts), kind=Kind.LIST)

    async def forget(self, inv: Invocation) -> Reply:
        data = await self.store.members.everything(inv.actor.id)
        rsvps = len(await self.store.events.member_rsvps(inv.actor.id))
        votes = len(await self.store.polls.member_votes(inv.actor.id))
        if inv.args.get("confirm") != "confirm":
            return Reply(
                fmt(
                    "This deletes, for good: your journal ({} entries), your reading progress "
                    "({}), your challenges ({}), messages to you ({}), your answers to events "
                    "({}) and your votes in polls ({}); and removes your name from {} "
                    "suggestion(s), {} prompt(s) and {} thing(s) you set up. What was approved "
                    "stays, without your name. To go ahead: `forget me confirm`",
                    len(data.journal),
                    len(data.progress),
                    len(data.challenges),
                    len(data.notices),
                    rsvps,
                    votes,
                    len(data.suggestions),
                    len(data.prompts),
                    len(data.created),
                )
            )
        await self.store.members.forget(inv.actor.id)
        return Reply(
            "Done. I have deleted your journal, progress, RSVPs and votes and removed your name "
            "from everything else. Nothing I keep names you now.",
            kind=Kind.CONFIRMATION,
        )
