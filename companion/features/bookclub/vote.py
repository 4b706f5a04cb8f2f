"""`bookclub vote`: the club chooses its next book by a poll of its reading plans (the
community's own and the shipped ones) or of the approved book suggestions (the community's
resources). It is an ordinary poll (`Polls.open`): the platform's own where it has polls, text
and `vote` elsewhere, with the same limits; a title longer than an answer may be is shortened
at a word, with an ellipsis, never cut silently."""

from __future__ import annotations

import re

from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.events import Invocation, Kind, Reply
from companion.features.bookclub.plans import Plans, PlanView
from companion.features.events.polls import (
    ANSWER,
    DEFAULT_HOURS,
    MAX_ANSWERS,
    MIN_ANSWERS,
    Polls,
    check_hours,
    parse_duration,
    winner,
)
from companion.fmt import Md, bold, code, fmt
from companion.store import Repositories, Store
from companion.store.polls import PollRow

KIND = "bookclub"
QUESTION = "Which book should the club read next?"
ELLIPSIS = "\u2026"


def shorten(title: str, limit: int = ANSWER) -> str:
    """``title`` if it fits in ``limit`` characters; else cut at the last word that fits,
    with an ellipsis (a single over-long word is cut, with the ellipsis too)."""
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    room = title[: limit - 1]
    cut = room.rsplit(" ", 1)[0] if " " in room else room
    return cut.rstrip(" ,.;:-\u2013\u2014") + ELLIPSIS


def answers_for(titles: list[str]) -> list[str]:
    """Each title as a poll answer: shortened to fit, and told apart when two come out the
    same (" (2)", within the limit too)."""
    answers: list[str] = []
    for title in titles:
        answer, number = shorten(title), 2
        while answer.casefold() in {a.casefold() for a in answers}:
            suffix = f" ({number})"
            answer = shorten(title, ANSWER - len(suffix)) + suffix
            number += 1
        answers.append(answer)
    return answers


class ClubVote:
    def __init__(self, store: Store, plans: Plans, polls: Polls) -> None:
        self.store = store
        self.plans = plans
        self.polls = polls
        polls.on_close[KIND] = self.decided

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "bookclub vote",
                "Let the club choose its next book: a poll of the reading plans or suggestions",
                self.vote,
                params=(
                    Param(
                        "books",
                        "plans (default), suggestions, or 2 to 10 plan names; [for 3d]",
                        ParamType.TEXT,
                        required=False,
                        rest=True,
                        max_length=600,
                    ),
                ),
                in_direct=False,
                examples=(
                    "bookclub vote",
                    "bookclub vote suggestions for 3d",
                    "bookclub vote the-wake-up emergent-strategy",
                ),
            )
        ]

    async def vote(self, inv: Invocation) -> Reply:
        await self.polls.may_start(inv)
        text, given = parse_duration(" " + str(inv.args.get("books") or ""))
        hours = DEFAULT_HOURS if given is None else given
        check_hours(hours)
        words = text.split()
        community = inv.place.community_id
        if words in ([], ["plans"]):
            plans = await self.plans.all_for(community)
            if len(plans) > MAX_ANSWERS:
                raise UserError(
                    fmt(
                        "There are {} reading plans here and a poll has at most {} answers: "
                        "name the ones to choose from, e.g. {}.",
                        len(plans),
                        MAX_ANSWERS,
                        code(f"bookclub vote {plans[0].name} {plans[1].name}"),
                    )
                )
            titles, names = [p.title for p in plans], [p.name for p in plans]
        elif words == ["suggestions"]:
            resources = (await self.store.contributions.resources(community))[:MAX_ANSWERS]
            titles, names = [r.title for r in resources], ["" for _ in resources]
        else:
            chosen: list[PlanView] = []
            for word in words:
                plan = await self.plans.find(community, word)
                if plan not in chosen:
                    chosen.append(plan)
            titles, names = [p.title for p in chosen], [p.name for p in chosen]
        if not MIN_ANSWERS <= len(titles) <= MAX_ANSWERS:
            what = "approved book suggestions" if words == ["suggestions"] else "reading plans"
            raise UserError(
                fmt(
                    "A vote needs {} to {} books to choose from; there are {} {} here.",
                    MIN_ANSWERS,
                    MAX_ANSWERS,
                    len(titles),
                    what,
                )
            )
        answers = answers_for(titles)
        poll_id = await self.polls.open(
            inv, QUESTION, answers, hours, {"kind": KIND, "plans": names}
        )
        return Reply(
            fmt(
                "Poll #{} is open for {} hours: {} books to choose from; I am posting it here.",
                poll_id,
                hours,
                len(answers),
            ),
            kind=Kind.CONFIRMATION,
        )

    async def decided(
        self,
        uow: Repositories,
        poll: PollRow,
        purpose: dict[str, object],
        counts: dict[int, int],
        closed: bool,
        by: str | None,
    ) -> Md | None:
        """The result's last line: the chosen book, and how to start reading it."""
        best = winner(counts, len(poll.options))
        if best is None:
            return fmt("Nobody voted, so the club has not chosen a book.")
        names = purpose.get("plans")
        name = names[best - 1] if isinstance(names, list) and len(names) >= best else ""
        chosen = bold(poll.options[best - 1])
        if name and re.fullmatch(r"[a-z0-9-]+", str(name)):
            start = code(f"bookclub start {name} <date>")
            return fmt("The club reads {} next: a moderator starts it with {}.", chosen, start)
        create = code('bookclub plan create "Title" <chapters>')
        return fmt("The club reads {} next: a moderator makes its plan with {}.", chosen, create)
