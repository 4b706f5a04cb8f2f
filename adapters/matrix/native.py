"""Matrix's own ways of answering: MSC3381 polls and RSVPs by reactions.

Owns: the contents of a poll's start and end (stable ``m.poll.*`` and the unstable
``org.matrix.msc3381.poll.*`` that clients still read and send, with a text fallback that
lists the answers and the `!vote N` command), an announcement's edit (``m.replace``), and
reading members' poll responses, reactions (✅ ❔ ❌) and the redaction of a reaction from
the timeline into :class:`~companion.events.NativeAnswer` for the gateway.

A poll's answers have the ids "1" to "10", so a selection is the answer's number. A response
with no valid selection is spoiled, as MSC3381 says: it takes the member's vote back. A
reaction is remembered in the bot's key-value space (its event id, the announcement and a
keyed hash of who reacted, never the id itself), so removing it later (a redaction) takes
back that member's answer, if it is still their latest reaction and still the answer it
gave (an answer by command since then stands).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from companion.events import RSVP_REACTIONS, NativeAnswer
from companion.gateway import Gateway
from companion.markup import defuse_mentions, to_html, to_plain
from companion_adapters.matrix.inbound import PLATFORM
from companion_adapters.matrix.outbound import HTML, Content, notice

log = logging.getLogger("companion_adapters.matrix")

POLL_START, POLL_START_UNSTABLE = "m.poll.start", "org.matrix.msc3381.poll.start"
POLL_RESPONSE, POLL_RESPONSE_UNSTABLE = "m.poll.response", "org.matrix.msc3381.poll.response"
POLL_END, POLL_END_UNSTABLE = "m.poll.end", "org.matrix.msc3381.poll.end"
TEXT_UNSTABLE = "org.matrix.msc1767.text"
REACTION, REDACTION = "m.reaction", "m.room.redaction"
TYPES = frozenset({POLL_RESPONSE, POLL_RESPONSE_UNSTABLE, REACTION, REDACTION})
KV = "matrix.rsvp:"  # the bot's key-value space: reactions that are RSVPs


def _texts(md: str) -> Content:
    """The extensible-events text of a Markdown message (plain and HTML) and its
    ``m.room.message``-style fallback for clients that read only ``body``."""
    plain, html = to_plain(md), to_html(md)
    return {
        "m.text": [{"body": plain}, {"mimetype": "text/html", "body": html}],
        TEXT_UNSTABLE: plain,
        "msgtype": "m.notice",
        "body": plain,
        "format": HTML,
        "formatted_body": html,
        "m.mentions": {},
    }


def poll_start(question: str, answers: tuple[str, ...], md: str) -> Content:
    """An MSC3381 poll (disclosed: clients show the counts, never who) with the unstable
    content beside the stable one; ``md`` is the text fallback."""
    question = defuse_mentions(" ".join(question.split()))
    shown = [defuse_mentions(" ".join(answer.split())) for answer in answers]
    return {
        "m.poll": {
            "kind": "m.disclosed",
            "max_selections": 1,
            "question": {"m.text": [{"body": question}]},
            "answers": [
                {"m.id": str(n), "m.text": [{"body": text}]} for n, text in enumerate(shown, 1)
            ],
        },
        POLL_START_UNSTABLE: {
            "kind": "org.matrix.msc3381.poll.disclosed",
            "max_selections": 1,
            "question": {TEXT_UNSTABLE: question, "body": question, "msgtype": "m.text"},
            "answers": [{"id": str(n), TEXT_UNSTABLE: text} for n, text in enumerate(shown, 1)],
        },
        **_texts(md),
    }


def poll_end(poll_event_id: str, md: str, counts: Mapping[int, int]) -> Content:
    """The end of a poll, with the result as its text (counts per answer, no names)."""
    return {
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll_event_id},
        POLL_END_UNSTABLE: {},
        "m.poll.results": {str(n): count for n, count in sorted(counts.items())},
        **_texts(md),
    }


def edit(event_id: str, md: str) -> Content:
    """Replace a notice's text (``m.replace``): clients show the new content in its place."""
    new = notice(md)
    return {
        "msgtype": "m.notice",
        "body": "* " + new["body"],
        "format": HTML,
        "formatted_body": "* " + new["formatted_body"],
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        "m.mentions": {},
    }


def poll_choice(event: Mapping[str, Any]) -> tuple[str, int | None] | None:
    """(the poll's event id, the answer's number or None) of a poll response, else None."""
    content = event.get("content")
    if not isinstance(content, Mapping):
        return None
    relates = content.get("m.relates_to")
    if not isinstance(relates, Mapping) or not isinstance(relates.get("event_id"), str):
        return None
    if event.get("type") == POLL_RESPONSE:
        selections = content.get("m.selections")
    else:
        unstable = content.get(POLL_RESPONSE_UNSTABLE)
        selections = unstable.get("answers") if isinstance(unstable, Mapping) else None
    choice: int | None = None
    if isinstance(selections, list) and selections:
        first = selections[0]
        if isinstance(first, str) and first.isdecimal() and 1 <= int(first) <= 10:
            choice = int(first)
    return str(relates["event_id"]), choice


def reaction(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(the event reacted to, "yes"/"maybe"/"no") of an RSVP reaction, else None."""
    content = event.get("content")
    relates = content.get("m.relates_to") if isinstance(content, Mapping) else None
    if not isinstance(relates, Mapping) or relates.get("rel_type") != "m.annotation":
        return None
    target, key = relates.get("event_id"), relates.get("key")
    if not isinstance(target, str) or not isinstance(key, str):
        return None
    answer = RSVP_REACTIONS.get(key.replace("\ufe0f", ""))  # with or without the emoji style
    return (target, answer) if answer else None


def redacted(event: Mapping[str, Any]) -> str | None:
    """The event a redaction removes (top level before room version 11, in content after)."""
    content = event.get("content")
    target = event.get("redacts")
    if target is None and isinstance(content, Mapping):
        target = content.get("redacts")
    return target if isinstance(target, str) else None


class Answers:
    """Hands members' poll responses and RSVP reactions in one room to the gateway, in the
    order they were sent."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def handle(self, room_id: str, events: list[Mapping[str, Any]]) -> None:
        for event in events:
            try:
                await self._handle(room_id, event)
            except Exception:  # one odd event must not cost the others
                log.exception("could not count an answer in %s", room_id)

    async def _handle(self, room_id: str, event: Mapping[str, Any]) -> None:
        sender, kind, event_id = event.get("sender"), event.get("type"), event.get("event_id")
        if not isinstance(sender, str) or not isinstance(event_id, str):
            return
        kv = self.gateway.kv
        if kind in (POLL_RESPONSE, POLL_RESPONSE_UNSTABLE):
            found = poll_choice(event)
            if found is not None:
                await self.gateway.native_answer(
                    NativeAnswer(PLATFORM, room_id, found[0], sender, found[1])
                )
        elif kind == REACTION:
            rsvp = reaction(event)
            if rsvp is None:
                return
            answer = NativeAnswer(PLATFORM, room_id, rsvp[0], sender, rsvp[1])
            if await self.gateway.native_answer(answer):  # a reaction to an announcement
                who = self.gateway.member_hash("matrix-reaction", sender)
                await kv.set(f"{KV}{event_id}", f"{rsvp[0]}\t{who}\t{rsvp[1]}")
                await kv.set(f"{KV}{rsvp[0]}:{who}", event_id)
        elif kind == REDACTION:
            target = redacted(event)
            kept = await kv.get(f"{KV}{target}") if target else None
            if kept is None:
                return
            # (a reaction remembered before the answer was kept takes back any answer)
            announcement, who, *said = kept.split("\t")
            if self.gateway.member_hash("matrix-reaction", sender) != who:
                return  # someone else (a moderator) removed it: the answer stays
            if await kv.get(f"{KV}{announcement}:{who}") != target:
                return  # not their latest reaction: the latest still counts
            await self.gateway.native_answer(
                NativeAnswer(
                    PLATFORM, room_id, announcement, sender, None, was=next(iter(said), None)
                )
            )
