"""Book club: each club's plan and dates, how many members are at each chapter (counts,
never names), and pause, resume, skip and end (the `bookclub ...` commands).

Clubs, sessions and per-chapter counts are read from the store: the book club feature is
not on the app the pages are given and the chat shows them only as text. Reads are scoped
to the signed-in community; every change goes through a command."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from companion.events import Place
from companion.web.context import community_ctx
from companion.web.guard import path_id


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/c/{community}/bookclub", page)
    router.add_post("/c/{community}/bookclub/{id:\\d+}/{action:pause|resume|skip|end}", change)


async def page(request: web.Request) -> web.Response:
    ctx = await community_ctx(request)
    store = ctx.app.store.bookclubs
    clubs = []
    for club in await store.clubs_in_community(ctx.community_id):
        zone = ZoneInfo(club.timezone)
        counts = await store.chapter_counts(club.id)
        sessions = [
            {
                "chapter": s.chapter,
                "opens": datetime.fromisoformat(s.opens_at)
                .astimezone(zone)
                .strftime("%a %d %b %Y, %H:%M"),
                "state": s.state,
                "members": counts.get(s.chapter, 0),
            }
            for s in await store.sessions(club.id)
        ]
        clubs.append({"club": club, "sessions": sessions, "not_started": counts.get(0, 0)})
    return ctx.render("bookclub.html", "bookclub", clubs=clubs)


async def change(request: web.Request) -> web.Response:
    ctx = await community_ctx(request, write=True)
    club_id = path_id(request)
    club = await ctx.app.store.bookclubs.get(club_id)
    if club is None or club.community_id != ctx.community_id or club.status == "ended":
        ctx.not_found(f"book club #{club_id}")
    here = Place(club.platform, club.community_id, club.room_id)
    await ctx.run(f"bookclub {request.match_info['action']}", place=here)
    ctx.back("bookclub")
