"""Challenge: the path running here, its calendar of days, how many joined and how many
checked in on each day (shown from five on: counts, never names), and pause, resume and
end (the `challenge ...` commands)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from companion.events import Place
from companion.features.challenges.members import MIN_COUNT
from companion.web.context import community_ctx
from companion.web.guard import path_id


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/c/{community}/challenge", page)
    router.add_post("/c/{community}/challenge/{id:\\d+}/{action:pause|resume|end}", change)


async def page(request: web.Request) -> web.Response:
    ctx = await community_ctx(request)
    store = ctx.app.store.challenges
    challenge = await store.running(ctx.session.platform, ctx.community_id)
    days: list[dict[str, object]] = []
    joined = 0
    if challenge is not None:
        zone = ZoneInfo(challenge.timezone)
        joined, counts = await store.counts(challenge.id)
        reached = await store.reached(challenge.id, ctx.state.now())
        for slot in await store.slots(challenge.id):
            if slot.kind != "day":
                continue
            count = counts.get(slot.day, 0)
            days.append(
                {
                    "day": slot.day,
                    "opens": datetime.fromisoformat(slot.at)
                    .astimezone(zone)
                    .strftime("%a %d %b %Y, %H:%M"),
                    "state": "open" if slot.day <= reached else "to come",
                    "checked": str(count) if count >= MIN_COUNT else "fewer than five",
                }
            )
    return ctx.render("challenge.html", "challenge", challenge=challenge, days=days, joined=joined)


async def change(request: web.Request) -> web.Response:
    ctx = await community_ctx(request, write=True)
    challenge_id = path_id(request)
    challenge = await ctx.app.store.challenges.get(challenge_id)
    if (
        challenge is None
        or challenge.community_id != ctx.community_id
        or challenge.status == "ended"
    ):
        ctx.not_found(f"challenge #{challenge_id}")
    here = Place(challenge.platform, challenge.community_id, challenge.room_id)
    await ctx.run(f"challenge {request.match_info['action']}", place=here)
    ctx.back("challenge")
