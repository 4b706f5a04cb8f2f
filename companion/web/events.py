"""Events: the community's upcoming events with their RSVP counts (yes, maybe, no: counts,
never names), the calendar link a member gets with `calendar`, and cancelling an event
(through the `event cancel` command, which tells those who said yes)."""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup

from companion.features.events.posts import summary, where
from companion.features.events.timing import next_at
from companion.markup import to_html, to_plain
from companion.web.context import community_ctx
from companion.web.guard import path_id


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/c/{community}/events", page)
    router.add_post("/c/{community}/events/{id:\\d+}/cancel", cancel)


async def page(request: web.Request) -> web.Response:
    ctx = await community_ctx(request)
    now = ctx.state.now()
    store = ctx.app.store.events
    upcoming = [
        (event, moment)
        for event in await store.for_community(ctx.community_id)
        if (moment := next_at(event, now)) is not None
    ]
    upcoming.sort(key=lambda item: item[1])
    counts = await store.counts([event.id for event, _ in upcoming])
    rows = [
        {
            "id": event.id,
            "title": event.title,
            # The words `event show` and the announcement use, as text (the page escapes it).
            "when": to_plain(summary(event, now)),
            "where": to_plain(where(event)),
            "counts": counts[event.id],
        }
        for event, _ in upcoming
    ]
    # The same private answer a member gets from `calendar` (the link, made on first ask).
    reply = await ctx.app.dispatcher.dispatch(ctx.invocation("calendar"))
    calendar = Markup(to_html(reply.text)) if reply is not None else ""
    return ctx.render("events.html", "events", events=rows, calendar=calendar)


async def cancel(request: web.Request) -> web.Response:
    ctx = await community_ctx(request, write=True)
    event_id = path_id(request)
    event = await ctx.app.store.events.get(ctx.community_id, event_id)
    if event is None or event.status != "planned":
        ctx.not_found(f"event #{event_id}")
    await ctx.run("event cancel", id=event_id)
    ctx.back("events")
