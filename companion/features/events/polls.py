"""`poll` and `vote`: a text poll every platform can show, counted one vote per member.

Discord's limits are the common floor, so a poll made here could also be a Discord native
poll: 2 to 10 answers, a question up to 300 characters, answers up to 55, open 1 to 768
hours. Votes go through ``PollRepo.record_vote`` whichever way they come (the `vote`
command here; a platform's own poll answers later), the latest counting. When the poll
ends, the scheduler posts the result once: counts per answer, never names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from companion.commands import UserError
from companion.delivery import Action, Post, PostKind, Silent
from companion.events import Invocation, Kind, MessageRef, Place, Reply
from companion.features.communities import Communities
from companion.fmt import Md, bold, bullets, code, fmt, lines
from companion.ports import Polls as NativePolls
from companion.ports import capability
from companion.recurrence import Recurrence, shown
from companion.scheduler import Scheduler, occurrence_key
from companion.store import Repositories, Store
from companion.store.polls import PollRow
from companion.store.schedules import ScheduleRow

POST, CLOSE = "poll-post", "poll-close"
QUESTION, ANSWER, MIN_ANSWERS, MAX_ANSWERS = 300, 55, 2, 10
MIN_HOURS, MAX_HOURS, DEFAULT_HOURS = 1, 768, 24
RESULT_GRACE = timedelta(days=7)  # a result due while the bot was down is still posted
Decide = Callable[
    [Repositories, PollRow, dict[str, object], dict[int, int], bool, str | None],
    Awaitable[Md | None],
]
_DURATION = re.compile(r"\s+for\s+(-?\d+)\s*(h|hr|hrs|hours?|d|days?|w|weeks?)\s*$", re.IGNORECASE)


def parse_poll(text: str) -> tuple[str, list[str], int]:
    """ "Which book? | A | B for 2d" -> (question, answers, hours), or a clear UserError."""
    text, given = parse_duration(text)
    hours = DEFAULT_HOURS if given is None else given
    parts = [" ".join(part.split()) for part in text.split("|")]
    question, answers = parts[0], [a for a in parts[1:] if a]
    if not question:
        raise UserError(
            fmt("Start with the question, then the answers: `poll Which day? | Tue | Thu`.")
        )
    if len(question) > QUESTION:
        raise UserError(
            fmt("The question is too long ({} characters; at most {}).", len(question), QUESTION)
        )
    if not MIN_ANSWERS <= len(answers) <= MAX_ANSWERS:
        raise UserError(
            fmt(
                "A poll needs {} to {} answers, each after a `|` (this one has {}).",
                MIN_ANSWERS,
                MAX_ANSWERS,
                len(answers),
            )
        )
    for number, answer in enumerate(answers, 1):
        if len(answer) > ANSWER:
            raise UserError(
                fmt(
                    "Answer {} is too long ({} characters; at most {}).",
                    number,
                    len(answer),
                    ANSWER,
                )
            )
    if len({a.casefold() for a in answers}) < len(answers):
        raise UserError(fmt("Two answers are the same; give each answer once."))
    check_hours(hours)
    return question, answers, hours


def check_hours(hours: int) -> None:
    if not MIN_HOURS <= hours <= MAX_HOURS:
        raise UserError(fmt("A poll stays open {} to {} hours (32 days).", MIN_HOURS, MAX_HOURS))


class Polls:
    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        communities: Communities,
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.communities = communities
        # What a poll made for a purpose decides when it closes, by the purpose's "kind":
        # (uow, poll, purpose, counts, closed_now, by) -> a line for the result, or None.
        self.on_close: dict[str, Decide] = {}

    def post_kinds(self) -> list[PostKind]:
        return [PostKind(POST, self.render_poll), PostKind(CLOSE, self.render_result)]

    async def start(self, inv: Invocation) -> Reply:
        await self.may_start(inv)
        question, answers, hours = parse_poll(str(inv.args["poll"]))
        poll_id = await self.open(inv, question, answers, hours)
        return Reply(
            fmt("Poll #{} is open for {} hours; I am posting it here.", poll_id, hours),
            kind=Kind.CONFIRMATION,
        )

    async def may_start(self, inv: Invocation) -> None:
        """Moderators start polls; members too where `poll access members` allows."""
        community = inv.place.community_id
        if (
            not inv.actor.is_moderator
            and not (await self.store.events.settings(community)).member_polls
        ):
            raise UserError(
                fmt(
                    "Only moderators start polls here (a moderator can let members: "
                    "`poll access members`)."
                )
            )

    async def open(
        self,
        inv: Invocation,
        question: str,
        answers: list[str],
        hours: int,
        purpose: Mapping[str, object] | None = None,
    ) -> int:
        """The one way a poll is made (`poll`, `bookclub vote`, `event plan ... poll`): stored,
        posted here at once (natively where the platform has polls), its result when it
        closes. ``purpose`` (its ``"kind"`` one of ``on_close``) is acted on at the close."""
        community = inv.place.community_id
        closes = (inv.at + timedelta(hours=hours)).astimezone(UTC).replace(second=0, microsecond=0)
        place = Place(inv.place.platform, community, inv.place.room_id, inv.place.thread_id)
        ending = Recurrence("once", closes.time(), ZoneInfo("UTC"), closes.date())
        async with self.store.unit_of_work() as uow:
            poll_id = await uow.polls.add(
                community,
                place.platform,
                place.room_id,
                question,
                answers,
                closes,
                inv.actor.id,
                inv.at,
                json.dumps(dict(purpose), ensure_ascii=False) if purpose is not None else None,
            )
            await self.scheduler.add_now(place, POST, str(poll_id), inv.actor.id, repos=uow)
            await self.scheduler.add(
                place, CLOSE, ending, str(poll_id), inv.actor.id, grace=RESULT_GRACE, repos=uow
            )
        return poll_id

    async def access(self, inv: Invocation) -> Reply:
        who = str(inv.args["who"])
        await self.store.events.set_member_polls(inv.place.community_id, who == "members")
        shown = "every member" if who == "members" else "moderators only"
        return Reply(fmt("Polls here can now be started by {}.", shown), kind=Kind.CONFIRMATION)

    async def vote(self, inv: Invocation) -> Reply:
        number = inv.number("answer")
        poll: PollRow | None
        if inv.args.get("poll") is not None:
            poll = await self.store.polls.get(inv.place.community_id, inv.number("poll"))
        else:
            poll = await self.store.polls.latest_open(inv.place.platform, inv.place.room_id)
        if poll is None:
            raise UserError("There is no open poll here to vote in.")
        if poll.status != "open" or datetime.fromisoformat(poll.closes_at) <= inv.at:
            raise UserError(fmt("Poll #{} has ended; the result is posted where it ran.", poll.id))
        if not 1 <= number <= len(poll.options):
            raise UserError(fmt("Poll #{} has answers 1 to {}.", poll.id, len(poll.options)))
        if not await self.store.polls.record_vote(
            poll.community_id, poll.id, inv.actor.id, number, inv.at
        ):
            raise UserError(fmt("Poll #{} has ended; the result is posted where it ran.", poll.id))
        return Reply(
            fmt(
                "Your vote in poll #{}: {} {}. Vote again to change it; only you see this.",
                poll.id,
                number,
                bold(poll.options[number - 1]),
            ),
            private=True,
            kind=Kind.CONFIRMATION,
        )

    # --- what the scheduler posts -----------------------------------------------------------

    def text(self, poll: PollRow) -> Md:
        zone = self.communities.zone(poll.community_id)
        ends = shown(poll.closes_at, zone)
        return lines(
            fmt("**Poll #{}:** {}", poll.id, poll.question),
            bullets(fmt("{}. {}", n, a) for n, a in enumerate(poll.options, 1)),
            fmt(
                "Vote with {} (the answer's number); your latest vote counts and nobody "
                "sees who voted for what. Open until {}.",
                code("vote 1"),
                ends,
            ),
        )

    def _native(self, platform: str) -> NativePolls | None:
        port = self.scheduler.ports.get(platform)
        return capability(port, NativePolls) if port is not None else None

    async def render_poll(self, row: ScheduleRow, due: datetime) -> Action:
        poll = await self.store.polls.get(row.community_id, int(row.payload))
        if poll is None or poll.status != "open":
            return Silent()
        native = self._native(row.platform)
        if native is None:
            return Post(self.text(poll), kind=Kind.ANSWER)
        # The platform's own poll, open as long as what is left (it ends by itself there).
        left = datetime.fromisoformat(poll.closes_at) - due
        hours = min(max(1, -(-int(left.total_seconds()) // 3600)), MAX_HOURS)
        place = Place(row.platform, row.community_id, row.room_id, row.thread_id)
        ref = await native.open_poll(
            place,
            poll.question,
            tuple(poll.options),
            text=self.scheduler.ports.render(row.platform, self.text(poll)),
            hours=hours,
            key=occurrence_key(row.id, due),
        )
        await self.store.polls.set_native_ref(poll.community_id, poll.id, ref.message_id)
        return Silent()

    async def render_result(self, row: ScheduleRow, due: datetime) -> Action:
        poll = await self.store.polls.get(row.community_id, int(row.payload))
        if poll is None:
            return Silent()
        # Closing (no vote counts after this) and what the poll decides are one transaction,
        # and only the call that closed it acts: a resend after a crash decides nothing twice.
        purpose = json.loads(poll.purpose) if poll.purpose else {}
        decide = self.on_close.get(str(purpose.get("kind", "")))
        async with self.store.unit_of_work() as uow:
            closed = await uow.polls.close(poll.community_id, poll.id)
            counts = await uow.polls.counts(poll.id)
            decided = (
                await decide(uow, poll, purpose, counts, closed, row.created_by)
                if decide is not None
                else None
            )
        total = sum(counts.values())
        top = max(counts.values(), default=0)
        items = [
            fmt("{} {}: {} vote(s){}", n, bold(a), counts.get(n, 0), _lead(counts.get(n, 0), top))
            for n, a in enumerate(poll.options, 1)
        ]
        text = lines(
            fmt("**Poll #{} has ended:** {}", poll.id, poll.question),
            bullets(items),
            fmt("{} member(s) voted.", total),
            *([decided] if decided is not None else []),
        )
        native = self._native(row.platform)
        if native is not None and poll.native_ref is not None:  # the result ends the poll
            place = Place(row.platform, row.community_id, row.room_id, row.thread_id)
            key = occurrence_key(row.id, due)
            text = self.scheduler.ports.render(row.platform, text)
            await native.close_poll(MessageRef(place, poll.native_ref), text, counts, key=key)
            return Silent()
        return Post(text, kind=Kind.ANSWER)

    async def answer(
        self,
        poll: PollRow,
        member_id: str,
        choice: int | None,
        now: datetime,
        was: int | None = None,
    ) -> bool:
        """A vote (or its withdrawal) from the platform's own poll. A number that is none
        of the poll's answers spoils the vote, as MSC3381 has it: the member's vote is
        taken back."""
        if poll.status != "open" or datetime.fromisoformat(poll.closes_at) <= now:
            return False
        if choice is None or not 1 <= choice <= len(poll.options):
            await self.store.polls.withdraw_vote(poll.id, member_id, was)
            return True
        return await self.store.polls.record_vote(
            poll.community_id, poll.id, member_id, choice, now
        )


def winner(counts: Mapping[int, int], options: int) -> int | None:
    """The answer with the most votes (the first of those tied), None when nobody voted."""
    top = max((counts.get(n, 0) for n in range(1, options + 1)), default=0)
    if not top:
        return None
    return next(n for n in range(1, options + 1) if counts.get(n, 0) == top)


def parse_duration(text: str) -> tuple[str, int | None]:
    """ "... for 2d" -> ("...", 48); no duration -> (text, None)."""
    match = _DURATION.search(text)
    if not match:
        return text, None
    unit = match.group(2).lower()[0]
    # Any number is the member's duration (check_hours refuses it when out of range), never
    # part of the last answer: "for 99999d" or "for -3h" once became a 24-hour poll.
    number = int(match.group(1)) if len(match.group(1)) <= 9 else 10**9
    return text[: match.start()], number * {"h": 1, "d": 24, "w": 168}[unit]


def _lead(count: int, top: int) -> Md:
    return fmt(" (most votes)") if count and count == top else fmt("")
