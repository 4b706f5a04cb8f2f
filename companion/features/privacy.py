"""`mydata` and `forget me`: every member can see and delete what Companion keeps on them."""

from __future__ import annotations

from companion.commands import CommandSpec, Param
from companion.events import Invocation, Reply
from companion.markup import escape
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
                "Delete your journal and reading progress and remove your name everywhere",
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
        lines = [
            "**What Companion keeps about you** (only you can see this)",
            f"Your id on this platform: `{escape(inv.actor.id)}`",
            f"\n**Journal** ({len(data.journal)} entries)",
        ]
        lines += [f"- {r.day}: {escape(r.text)}" for r in data.journal] or ["- none"]
        lines.append(f"\n**Reading progress** ({len(data.progress)})")
        lines += [f"- {escape(t)}: up to chapter {c}" for t, c in data.progress] or ["- none"]
        lines.append(f"\n**Suggestions under your name** ({len(data.suggestions)})")
        lines += [f"- #{i} {k}, {s}, {at[:10]}" for i, k, s, at in data.suggestions] or ["- none"]
        lines.append("Anonymous questions are not listed: they are stored without your name.")
        lines.append(f"\n**Prompts under your name** ({len(data.prompts)})")
        lines += [f"- `{i}` {escape(t)}" for i, t in data.prompts] or ["- none"]
        lines.append(f"\n**Messages to you** ({len(data.notices)})")
        lines += [f"- {n.created_at[:10]}: {n.text}" for n in data.notices] or ["- none"]
        if data.created:
            lines.append(f"\n**Things you set up or reviewed** ({len(data.created)})")
            lines += [f"- {what}: {escape(detail)}" for what, detail in data.created]
        lines.append("\n`forget me` deletes your journal and progress and removes your name.")
        return Reply("\n".join(lines))

    async def forget(self, inv: Invocation) -> Reply:
        data = await self.store.members.everything(inv.actor.id)
        if inv.args.get("confirm") != "confirm":
            return Reply(
                "This deletes, for good: your journal "
                f"({len(data.journal)} entries), your reading progress ({len(data.progress)}) "
                f"and messages to you ({len(data.notices)}); and removes your name from "
                f"{len(data.suggestions)} suggestion(s), {len(data.prompts)} prompt(s) and "
                f"{len(data.created)} thing(s) you set up. What was approved stays, without "
                "your name. To go ahead: `forget me confirm`"
            )
        await self.store.members.forget(inv.actor.id)
        return Reply(
            "Done. I have deleted your journal and progress and removed your name "
            "from everything else. Nothing I keep names you now."
        )
