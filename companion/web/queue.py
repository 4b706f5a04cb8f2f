"""The moderation queue: each suggestion with its text and link; approve, reject with a
reason (the member is told, as from the chat), block; and the audit log.

The waiting suggestions are read from the store: the page shows each item's link and
fields, which the `queue` command only renders as text, and the moderation feature is not
on the app the pages are given. Reads are scoped to the signed-in community; decisions go
through the commands."""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup

from companion.features.moderation.items import KINDS, describe
from companion.markup import to_html
from companion.web.context import community_ctx
from companion.web.guard import path_id


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/c/{community}/queue", page)
    router.add_post("/c/{community}/queue/{id:\\d+}/{action:approve|reject|block}", decide)


async def page(request: web.Request) -> web.Response:
    ctx = await community_ctx(request)
    store = ctx.app.store.contributions
    items = []
    for item in await store.pending(ctx.community_id, limit=50):
        url = str(item.data.get("url", "")) if item.kind == "resource" else ""
        items.append(
            {
                "id": item.id,
                "kind": KINDS.get(item.kind, item.kind),
                "text": Markup(to_html(describe(item))),
                "url": url if url.startswith(("https://", "http://")) else "",
                "day": item.created_at[:10],
            }
        )
    audit = await ctx.app.dispatcher.dispatch(ctx.invocation("audit"))
    return ctx.render(
        "queue.html",
        "queue",
        items=items,
        total=await store.count_pending(ctx.community_id),
        audit=Markup(to_html(audit.text)) if audit else "",
    )


async def decide(request: web.Request) -> web.Response:
    ctx = await community_ctx(request, write=True)
    item_id = path_id(request)
    if await ctx.app.store.contributions.get(ctx.community_id, item_id) is None:
        ctx.not_found(f"suggestion #{item_id}")
    action = request.match_info["action"]
    if action == "reject":
        await ctx.run("reject", id=item_id, reason=ctx.field("reason"))
    else:
        await ctx.run(action, id=item_id)
    ctx.back("queue")
