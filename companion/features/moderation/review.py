"""Reviewing the queue: `queue`, `approve` and `reject`. The suggester is told the decision
privately; an approved anonymous question becomes a post in its room, with no name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from companion import links
from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.delivery import Action, Post, PostKind
from companion.events import Invocation, Kind, Place, Reply
from companion.features.moderation.items import SUGGESTION_ID, describe, find_item
from companion.features.prompts import title_from
from companion.fmt import Md, bold, bullets, fmt, lines
from companion.notices import Notices
from companion.ports import PermanentFailure
from companion.scheduler import Scheduler
from companion.store import Store
from companion.store.contributions import SuggestionRow
from companion.store.schedules import ScheduleRow

QUESTION_KIND = "anonymous-question"  # the post an approved question becomes


class Review:
    def __init__(self, store: Store, notices: Notices, scheduler: Scheduler) -> None:
        self.store = store
        self.notices = notices
        self.scheduler = scheduler

    def post_kinds(self) -> list[PostKind]:
        return [PostKind(QUESTION_KIND, self.render_question)]

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "queue",
                "Suggestions waiting for review, oldest first",
                self.queue,
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "approve",
                "Approve a suggestion",
                self.approve,
                params=(SUGGESTION_ID,),
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "reject",
                "Reject a suggestion, with the reason the suggester will see",
                self.reject,
                params=(
                    SUGGESTION_ID,
                    Param("reason", "Why, kindly put", ParamType.TEXT, rest=True, max_length=500),
                ),
                moderator_only=True,
                in_direct=False,
            ),
        ]

    async def queue(self, inv: Invocation) -> Reply:
        items = await self.store.contributions.pending(inv.place.community_id)
        if not items:
            return Reply("The queue is empty.", kind=Kind.LIST)
        total = await self.store.contributions.count_pending(inv.place.community_id)
        return Reply(
            lines(
                fmt("**Waiting for review** ({}, oldest first)", total),
                bullets(
                    fmt("#{} {} · {}", item.id, describe(item), item.created_at[:10])
                    for item in items
                ),
                fmt("`approve <id>` or `reject <id> <reason>`; `block <id>` stops its author."),
            ),
            kind=Kind.LIST,
        )

    async def _pending(self, inv: Invocation) -> SuggestionRow:
        item = await find_item(self.store, inv)
        if item.status != "pending":
            raise UserError(fmt("#{} was already {}.", item.id, item.status))
        return item

    async def approve(self, inv: Invocation) -> Reply:
        item = await self._pending(inv)
        data = item.data
        extra: dict[str, Any] = {}
        if item.kind == "resource":
            extra["add_resource"] = (
                data["url"],
                item.url_key or links.normalize(data["url"]),
                data["title"],
                tuple(data.get("tags", ())),
            )
        elif item.kind == "term":
            extra["add_term"] = (data["term"], data["definition"])
        elif item.kind == "prompt":
            extra["add_prompt"] = (
                title_from(data["text"]),
                data["text"],
                tuple(data.get("tags", ())),
            )
        place = Place(item.platform, item.community_id, item.room_id)
        told = fmt("Your suggestion #{} ({}) was approved. Thank you.", item.id, describe(item))
        notice_id = None
        # The decision, the post it makes and the suggester's notice: all or nothing.
        async with self.store.unit_of_work() as uow:
            if not await uow.contributions.decide(
                item, "approved", inv.actor.id, None, inv.at, **extra
            ):
                raise UserError(fmt("#{} was decided by someone else a moment ago.", item.id))
            if item.kind == "question":
                await self.scheduler.add_now(
                    place, QUESTION_KIND, str(item.id), inv.actor.id, repos=uow
                )
            if item.author_id is not None:
                notice_id = await self.notices.keep(uow, place, item.author_id, told)
        if notice_id is not None and item.author_id is not None:
            await self.notices.deliver(notice_id, place, item.author_id, told)
        if item.kind == "question":
            done = fmt("#{} approved. I am posting it in its room now, without a name.", item.id)
        else:
            done = fmt("#{} approved.", item.id)
        return Reply(done, kind=Kind.CONFIRMATION)

    async def render_question(self, row: ScheduleRow, due: datetime) -> Action:
        item = await self.store.contributions.get(row.community_id, int(row.payload))
        if item is None or item.kind != "question" or item.status != "approved":
            raise PermanentFailure("the question is no longer approved")
        text = lines(bold("A question from a member, asked anonymously"), item.data["question"])
        return Post(text, kind=Kind.QUESTION)

    async def reject(self, inv: Invocation) -> Reply:
        item = await self._pending(inv)
        reason = str(inv.args["reason"]).strip()
        if len(reason) < 3:
            raise UserError("Give the suggester a reason (a few words at least).")
        if not await self.store.contributions.decide(
            item, "rejected", inv.actor.id, reason, inv.at
        ):
            raise UserError(fmt("#{} was decided by someone else a moment ago.", item.id))
        await self._tell(
            item,
            fmt(
                "Your suggestion #{} ({}) was not added. The moderator's reason: {}",
                item.id,
                describe(item),
                reason,
            ),
        )
        return Reply(
            fmt("#{} rejected; the suggester will see your reason.", item.id),
            kind=Kind.CONFIRMATION,
        )

    async def _tell(self, item: SuggestionRow, text: Md) -> None:
        if item.author_id is None:  # anonymous, or the member asked to be forgotten
            return
        place = Place(item.platform, item.community_id, item.room_id)
        await self.notices.send(place, item.author_id, text)
