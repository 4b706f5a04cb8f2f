"""Prompts and glossary additions: list, search, add, edit, remove (the `prompt ...`
commands), and import/export of the community's own entries as `content export` files.

Prompts are read through the prompts feature. The glossary additions are read from the
store: they are the moderation queue's approved terms, and that feature is not on the app
the pages are given; the read is scoped to the signed-in community and changes nothing.
"""

from __future__ import annotations

from aiohttp import web

from companion import exchange
from companion.web.context import Ctx, community_ctx, download
from companion.web.guard import path_id

MAX_IMPORT = 512 * 1024


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/c/{community}/prompts", page)
    router.add_post("/c/{community}/prompts", add)
    router.add_post("/c/{community}/prompts/{id:\\d+}/remove", remove)
    router.add_post("/c/{community}/prompts/{id:\\d+}/edit", edit)
    router.add_get("/c/{community}/prompts/export", export)
    router.add_post("/c/{community}/prompts/import", import_)


async def page(request: web.Request) -> web.Response:
    ctx = await community_ctx(request)
    query = request.query.get("q", "").strip()[:100]
    views = await ctx.app.prompts.all_for(ctx.community_id)
    terms = await ctx.app.store.contributions.terms_added(ctx.community_id)  # see the docstring
    if query:
        needle = query.lower()
        views = [v for v in views if needle in v.text.lower() or needle in " ".join(v.tags)]
        terms = [t for t in terms if needle in t[0].lower() or needle in t[1].lower()]
    return ctx.render(
        "prompts.html",
        "prompts",
        query=query,
        own=[v for v in views if v.community],
        shipped=[v for v in views if not v.community][:50],
        terms=terms,
    )


async def add(request: web.Request) -> web.Response:
    ctx = await community_ctx(request, write=True)
    await ctx.run("prompt add", text=ctx.field("text"))
    ctx.back("prompts")


async def _own_id(ctx: Ctx) -> int:
    prompt_id = path_id(ctx.request)
    views = await ctx.app.prompts.all_for(ctx.community_id)
    if all(view.ref != f"c:{prompt_id}" for view in views):
        ctx.not_found(f"prompt {prompt_id}")
    return prompt_id


async def remove(request: web.Request) -> web.Response:
    ctx = await community_ctx(request, write=True)
    await ctx.run("prompt remove", id=str(await _own_id(ctx)))
    ctx.back("prompts")


async def edit(request: web.Request) -> web.Response:
    """`prompt edit`: the new text replaces the old in one unit of work (a new number)."""
    ctx = await community_ctx(request, write=True)
    await ctx.run("prompt edit", id=str(await _own_id(ctx)), text=ctx.field("text"))
    ctx.back("prompts")


async def export(request: web.Request) -> web.Response:
    ctx = await community_ctx(request)
    text = await exchange.export_community(ctx.app.store, ctx.community_id)
    return download(text, "application/json", "community-export.json")


def uploaded(ctx: Ctx, page: str) -> tuple[str, str]:
    """The form's uploaded file ("file", or pasted as "data"): (its name, its text), read
    no further than one byte past MAX_IMPORT. A file that is not UTF-8 text, or is larger,
    is refused here: back to ``page`` with the reason, nothing imported."""
    upload = ctx.form.get("file") if ctx.form is not None else None
    if not isinstance(upload, web.FileField):
        return "pasted", ctx.field("data")
    name = (upload.filename or "upload")[:100]
    data = upload.file.read(MAX_IMPORT + 1)
    if isinstance(data, str):
        return name, data
    try:
        if len(data) > MAX_IMPORT:  # in bytes: a file cut off at the limit is never imported
            limit = MAX_IMPORT // 1024
            raise exchange.ExchangeError(f"{name}: larger than {limit} KiB, too large to import")
        return name, exchange.decode(data, name) if data.strip() else ""
    except exchange.ExchangeError as error:
        ctx.flash(f"Nothing imported: {error}", error=True)
        ctx.back(page)


async def import_(request: web.Request) -> web.Response:
    ctx = await community_ctx(request, write=True)
    _, raw = uploaded(ctx, "prompts")
    if not raw.strip():
        ctx.flash("Choose an export file (or paste one) to import.", error=True)
    elif len(raw) > MAX_IMPORT:
        ctx.flash("That file is too large to be a community export.", error=True)
    else:
        try:
            added = await exchange.import_community(ctx.app.store, ctx.community_id, raw)
        except exchange.ExchangeError as error:
            ctx.flash(f"Nothing imported: {error}", error=True)
        else:
            ctx.flash(f"Imported {added} entries.")
    ctx.back("prompts")
