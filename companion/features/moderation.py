"""The moderation queue: members suggest resources, terms, prompts and anonymous questions;
moderators approve or reject them (the suggester is told privately), block members from
suggesting, and read the audit log. Anonymous questions store no author, only a keyed hash.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from companion import links
from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.content import Content
from companion.events import Invocation, Kind, Place, Reply
from companion.features.prompts import MAX_PROMPT, PROMPT_TEXT, split_tags, title_from
from companion.fmt import Md, bold, bullets, code, fmt, italic, lines
from companion.identity import MemberHasher
from companion.notices import Notices
from companion.ports import PostError
from companion.scheduler import Action, Post, Scheduler
from companion.store import Store
from companion.store.contributions import SuggestionRow
from companion.store.schedules import ScheduleRow

QUESTION_KIND = "anonymous-question"  # the post an approved question becomes
MAX_TITLE = 200
MAX_DEFINITION = 600
KINDS = {
    "resource": "resource",
    "term": "glossary term",
    "prompt": "prompt",
    "question": "anonymous question",
}


class Moderation:
    def __init__(
        self,
        store: Store,
        content: Content,
        hasher: MemberHasher,
        notices: Notices,
        scheduler: Scheduler,
        *,
        per_day: int = 5,
    ) -> None:
        self.store = store
        self.hasher = hasher
        self.notices = notices
        self.scheduler = scheduler
        scheduler.register(QUESTION_KIND, self.render_question)
        self.per_day = per_day
        self.content = content

    @property
    def shipped_links(self) -> dict[str, str]:
        return self.content.derived(_shipped_links)

    def commands(self) -> list[CommandSpec]:
        ident = Param("id", "The queue number (see `queue`)", ParamType.INT, min_value=1)
        return [
            CommandSpec(
                "resource suggest",
                "Suggest a book, article or talk for this community's library",
                self.suggest_resource,
                params=(
                    Param("url", "A link to it (http or https)", max_length=links.MAX_URL),
                    Param(
                        "title",
                        "Its title, optionally ending in #tags",
                        ParamType.TEXT,
                        rest=True,
                        max_length=MAX_TITLE + 200,
                    ),
                ),
                private=True,
                in_direct=False,
                examples=(
                    "resource suggest https://example.org/talk Why listening matters #listening",
                ),
            ),
            CommandSpec(
                "suggest term",
                "Suggest a glossary term and its definition",
                self.suggest_term,
                params=(
                    Param("term", "The word or phrase (quote it if it has spaces)", max_length=60),
                    Param(
                        "definition",
                        "A short definition in your own words",
                        ParamType.TEXT,
                        rest=True,
                        max_length=MAX_DEFINITION,
                    ),
                ),
                private=True,
                in_direct=False,
                examples=('suggest term "call in" Inviting someone privately to reflect on harm',),
            ),
            CommandSpec(
                "suggest prompt",
                "Suggest a discussion prompt for this community",
                self.suggest_prompt,
                params=(PROMPT_TEXT,),
                private=True,
                in_direct=False,
            ),
            CommandSpec(
                "ask anonymously",
                "Ask the community a question without your name: moderators review it first",
                self.ask_anonymously,
                params=(
                    Param(
                        "question",
                        "Your question",
                        ParamType.TEXT,
                        rest=True,
                        max_length=MAX_PROMPT,
                    ),
                ),
                private=True,
                in_direct=False,
            ),
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
                params=(ident,),
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "reject",
                "Reject a suggestion, with the reason the suggester will see",
                self.reject,
                params=(
                    ident,
                    Param("reason", "Why, kindly put", ParamType.TEXT, rest=True, max_length=500),
                ),
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "block",
                "Stop the author of a suggestion from suggesting more",
                self.block,
                params=(ident,),
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "unblock",
                "Let the author of a suggestion suggest again",
                self.unblock,
                params=(ident,),
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "audit",
                "Who approved, rejected or blocked what, and when",
                self.audit,
                moderator_only=True,
                in_direct=False,
            ),
        ]

    # --- suggesting -------------------------------------------------------------------------

    async def _admit(self, inv: Invocation) -> str:
        """The member's keyed hash, if they may suggest now (not blocked, under the limit)."""
        author_hash = self.hasher(inv.place.community_id, inv.actor.id)
        blocked, recent = await self.store.contributions.standing(
            inv.place.community_id, author_hash, inv.at - timedelta(days=1)
        )
        if blocked:
            raise UserError("A moderator has paused your suggestions in this community.")
        if recent >= self.per_day:
            raise UserError(
                fmt(
                    "You have made {} suggestions today, the most a day here. "
                    "Thank you; please try again tomorrow.",
                    recent,
                )
            )
        return author_hash

    async def _queue(
        self,
        inv: Invocation,
        kind: str,
        data: dict[str, Any],
        *,
        anonymous: bool = False,
        url_key: str | None = None,
    ) -> int:
        author_hash = await self._admit(inv)
        return await self.store.contributions.suggest(
            inv.place.community_id,
            kind,
            data,
            author_id=None if anonymous else inv.actor.id,
            author_hash=author_hash,
            platform=inv.place.platform,
            room_id=inv.place.room_id,
            url_key=url_key,
            now=inv.at,
        )

    async def suggest_resource(self, inv: Invocation) -> Reply:
        url = links.check(str(inv.args["url"]))
        key = links.normalize(url)
        title, tags = split_tags(str(inv.args["title"]))
        if not title:
            raise UserError("Give the resource a title after the link.")
        if len(title) > MAX_TITLE:
            raise UserError(fmt("A title can be at most {} characters.", MAX_TITLE))
        shipped = self.shipped_links.get(key)
        if shipped:
            raise UserError(fmt("That one is already in the library: {}.", italic(shipped)))
        found = await self.store.contributions.find_link(inv.place.community_id, key)
        if found and found[0] == "library":
            raise UserError(fmt("That one is already in the library: {}.", italic(found[1])))
        if found:
            raise UserError(fmt("That link is already waiting for review ({}).", found[1]))
        number = await self._queue(
            inv, "resource", {"url": url, "title": title, "tags": tags}, url_key=key
        )
        return Reply(
            fmt(
                "Thank you. Your suggestion #{} is waiting for a moderator; "
                "I will tell you privately what they decide.",
                number,
            ),
            kind=Kind.CONFIRMATION,
        )

    async def suggest_term(self, inv: Invocation) -> Reply:
        term = str(inv.args["term"]).strip()
        definition = str(inv.args["definition"]).strip()
        if len(definition) < 15:
            raise UserError("Give a definition of at least a sentence (15 characters or more).")
        number = await self._queue(inv, "term", {"term": term, "definition": definition})
        return _thanks(number)

    async def suggest_prompt(self, inv: Invocation) -> Reply:
        text, tags = split_tags(str(inv.args["text"]))
        if not 10 <= len(text) <= MAX_PROMPT:
            raise UserError(fmt("A prompt is 10 to {} characters.", MAX_PROMPT))
        number = await self._queue(inv, "prompt", {"text": text, "tags": tags})
        return _thanks(number)

    async def ask_anonymously(self, inv: Invocation) -> Reply:
        question = str(inv.args["question"]).strip()
        if len(question) < 10:
            raise UserError("Write your question in a sentence or two (10 characters or more).")
        await self._queue(inv, "question", {"question": question}, anonymous=True)
        return Reply(
            "Your question is with the moderators, without your name. If they "
            "approve it, I will post it in the community's room with no name attached. Nobody, "
            "moderators included, can see who asked.",
            kind=Kind.CONFIRMATION,
        )

    # --- reviewing --------------------------------------------------------------------------

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
        item = await self.store.contributions.get(inv.place.community_id, inv.number("id"))
        if item is None:
            raise UserError(fmt("There is no suggestion #{} here.", inv.args["id"]))
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
            raise PostError("the question is no longer approved", permanent=True)
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

    async def block(self, inv: Invocation) -> Reply:
        return await self._set_block(inv, blocked=True)

    async def unblock(self, inv: Invocation) -> Reply:
        return await self._set_block(inv, blocked=False)

    async def _set_block(self, inv: Invocation, *, blocked: bool) -> Reply:
        item = await self.store.contributions.get(inv.place.community_id, inv.number("id"))
        if item is None:
            raise UserError(fmt("There is no suggestion #{} here.", inv.args["id"]))
        changed = await self.store.contributions.set_block(
            inv.place.community_id,
            item.author_hash,
            inv.actor.id,
            blocked,
            f"author of #{item.id}",
            inv.at,
        )
        if blocked:
            return Reply(
                fmt("The author of #{} can no longer suggest here.", item.id)
                if changed
                else fmt("The author of #{} was already blocked.", item.id),
                kind=Kind.CONFIRMATION,
            )
        return Reply(
            fmt("The author of #{} can suggest again.", item.id)
            if changed
            else fmt("The author of #{} was not blocked.", item.id),
            kind=Kind.CONFIRMATION,
        )

    async def audit(self, inv: Invocation) -> Reply:
        rows = await self.store.contributions.audit(inv.place.community_id)
        if not rows:
            return Reply("Nothing has been reviewed here yet.", kind=Kind.LIST)
        items = []
        for row in rows:
            who = row.actor_id or "a former member"
            why = fmt(": {}", row.detail) if row.detail else ""
            at = row.at[:16].replace("T", " ")
            items.append(fmt("{} {} {} {}{}", at, who, row.action, row.target, why))
        return Reply(
            lines(fmt("**Moderation log** (newest first)"), bullets(items)), kind=Kind.LIST
        )


def _thanks(number: int) -> Reply:
    return Reply(
        fmt("Thank you. Your suggestion #{} is waiting for a moderator.", number),
        kind=Kind.CONFIRMATION,
    )


def describe(item: SuggestionRow) -> Md:
    data = item.data
    if item.kind == "resource":
        return fmt("resource: {} {}", data["title"], code(data["url"]))
    if item.kind == "term":
        return fmt("glossary term: {}, {}", bold(data["term"]), data["definition"])
    if item.kind == "prompt":
        return fmt("prompt: {}", data["text"])
    return fmt("anonymous question: {}", data["question"])


def _shipped_links(content: Content) -> dict[str, str]:
    return {links.normalize(r.url): r.title for r in content.resources.values() if r.url}
