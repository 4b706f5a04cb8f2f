"""Challenge: the path running here, its calendar of days, how many joined and how many
checked in on each day (shown from five on: counts, never names), and pause, resume and
end (the `challenge ...` commands). The paths a challenge here can walk, and the
community's own exported and imported as a paths file (as `companion content export
--paths` and `content import` do)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from companion import exchange
from companion.events import Place
from companion.features.challenges.paths import paths_here
from companion.fmt import shown_count
from companion.web.context import community_ctx, download
from companion.web.guard import path_id
from companion.web.prompts import MAX_IMPORT, uploaded


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/c/{community}/challenge", page)
    router.add_post("/c/{community}/challenge/{id:\\d+}/{action:pause|resume|end}", change)
    router.add_get("/c/{community}/challenge/paths.toml", export_paths)
    router.add_post("/c/{community}/challenge/paths", import_paths)


async def page(request: web.Request) -> web.Response:
    ctx = await community_ctx(request)
    store = ctx.app.store.challenges
    challenge = await store.running(ctx.session.platform, ctx.community_id)
    days: list[dict[str, object]] = []
    joined = 0
    if challenge is not None:
        zone = ZoneInfo(challenge.timezone)
        joined, counts = await store.counts(challenge.id)
        reached = await store.reached(challenge, ctx.state.now())
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
                    "checked": shown_count(count),
                }
            )
    paths = await paths_here(ctx.app.store, ctx.app.content, ctx.community_id)
    return ctx.render(
        "challenge.html",
        "challenge",
        challenge=challenge,
        days=days,
        joined=shown_count(joined),
        paths=paths,
    )


async def export_paths(request: web.Request) -> web.Response:
    ctx = await community_ctx(request)
    text = await exchange.export_paths(ctx.app.store, ctx.community_id)
    return download(text, "application/toml", "paths.toml")


async def import_paths(request: web.Request) -> web.Response:
    """A paths file: validated whole (errors name the file and line), then added at once."""
    ctx = await community_ctx(request, write=True)
    name, raw = uploaded(ctx, "challenge")
    if not raw.strip():
        ctx.flash("Choose a paths file (TOML, as content/paths.toml) to import.", error=True)
    elif len(raw) > MAX_IMPORT:
        ctx.flash("That file is too large to be a paths file.", error=True)
    elif not exchange.is_paths_file(raw):
        ctx.flash("That is a community export (JSON); import it on the Prompts page.", error=True)
    else:
        try:
            ids = await exchange.import_paths(
                ctx.app.store, ctx.app.content, ctx.community_id, raw, name, ctx.state.now()
            )
        except exchange.ExchangeError as error:
            ctx.flash(f"Nothing imported: {error}", error=True)
        else:
            ctx.flash(f"Imported {len(ids)} path(s): {', '.join(ids)}.")
    ctx.back("challenge")


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
