"""Settings: the community's time zone (the `timezone` command) and a daily reflection
time (the `schedule reflection` command).

The daily reflection times are read from the store's planned schedules (the schedules
feature is not on the app the pages are given), scoped to the signed-in community."""

from __future__ import annotations

from aiohttp import web

from companion.web.context import community_ctx


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/c/{community}/settings", page)
    router.add_post("/c/{community}/settings/timezone", timezone)
    router.add_post("/c/{community}/settings/reflection", reflection)


async def page(request: web.Request) -> web.Response:
    ctx = await community_ctx(request)
    zone = ctx.app.communities.zone(ctx.community_id)
    reflections = [
        row
        for row in await ctx.app.store.schedules.for_community(ctx.community_id)
        if row.kind == "reflection" and row.status in ("active", "paused")
    ]
    return ctx.render(
        "settings.html",
        "settings",
        zone=zone.key,
        local_now=ctx.state.now().astimezone(zone).strftime("%H:%M"),
        reflections=reflections,
    )


async def timezone(request: web.Request) -> web.Response:
    ctx = await community_ctx(request, write=True)
    zone = ctx.field("zone").strip()
    if not zone:
        ctx.flash("Choose a time zone, e.g. Europe/Berlin.", error=True)
    else:
        await ctx.run("timezone", zone=zone)
    ctx.back("settings")


async def reflection(request: web.Request) -> web.Response:
    ctx = await community_ctx(request, write=True)
    await ctx.run("schedule reflection", time=ctx.field("time"))
    ctx.back("settings")
