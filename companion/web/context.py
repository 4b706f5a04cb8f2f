"""What every page of the dashboard shares: the app's state, a request's context (:class:`Ctx`)
and the checks that make one.

A page gets a :class:`Ctx` from :func:`community_ctx`, which refuses a request without a live
session (401), for a community the session does not reach (404), from a member the platform
no longer calls a moderator (403), or a form without the session's CSRF token (403).
Actions then run the same registered command the chat runs. The core is reached only
through :class:`~companion.gateway.WebGateway`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, NoReturn
from urllib.parse import quote

import jinja2
from aiohttp import web
from markupsafe import Markup
from multidict import MultiDictProxy

from companion.config import WebSettings
from companion.events import Actor, Invocation, Kind, Place
from companion.features.dashboard import token_hash
from companion.fmt import as_md
from companion.gateway import WebGateway
from companion.markup import to_html
from companion.ports import ModeratorCheck, capability
from companion.store.web import SessionRow
from companion.web import guard

COOKIE = "companion_session"
PAGES = (
    ("schedules", "Schedules"),
    ("events", "Events"),
    ("queue", "Moderation queue"),
    ("prompts", "Prompts and glossary"),
    ("bookclub", "Book club"),
    ("challenge", "Challenge"),
    ("settings", "Settings"),
)


def community_url(community_id: str, page: str = "schedules") -> str:
    return f"/c/{quote(community_id, safe='')}/{page}"


def csrf_for(cookie: str) -> str:
    """The session's CSRF token: derived from the cookie, so nothing more is stored."""
    return hmac.new(cookie.encode("utf-8"), b"companion-csrf", hashlib.sha256).hexdigest()


ERROR_KINDS = (Kind.ERROR, Kind.USAGE_ERROR, Kind.APOLOGY)


class Flash(NamedTuple):
    """A message shown once at the top of the next page: a command's reply, as HTML."""

    html: Markup
    error: bool = False


@dataclass(slots=True)
class WebState:
    app: WebGateway
    settings: WebSettings
    templates: jinja2.Environment
    flashes: dict[str, list[Flash]] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.app.clock.now()

    def checker(self, platform: str) -> ModeratorCheck | None:
        """The platform's port, if it can say who is a moderator now."""
        return capability(self.app.ports.get(platform), ModeratorCheck)

    def _render(self, template: str, **values: Any) -> str:
        values.setdefault("pages", PAGES)
        values.setdefault("community_url", community_url)
        values.setdefault("flashes", [])
        values.setdefault("current", "")
        return self.templates.get_template(template).render(**values)

    def page(self, template: str, **values: Any) -> web.Response:
        body = self._render(template, **values)
        return web.Response(
            text=body, content_type="text/html", headers={"Cache-Control": "no-store"}
        )

    def refuse(self, exc: type[web.HTTPException], title: str, message: str) -> NoReturn:
        body = self._render("error.html", title=title, message=message)
        raise exc(text=body, content_type="text/html", headers={"Cache-Control": "no-store"})


STATE = web.AppKey("companion_web", WebState)


@dataclass(slots=True)
class Ctx:
    """One request of a signed-in moderator, in one community (or none, for the index)."""

    state: WebState
    request: web.Request
    cookie_hash: str
    session: SessionRow
    csrf: str
    community_id: str = ""
    place: Place | None = None
    form: MultiDictProxy[Any] | None = None

    @property
    def app(self) -> WebGateway:
        return self.state.app

    @property
    def actor(self) -> Actor:
        # Checked by community_ctx: a moderator at login, and now where the platform can tell.
        return Actor(self.session.member_id, self.session.display_name, is_moderator=True)

    def field(self, name: str) -> str:
        value = self.form.get(name, "") if self.form is not None else ""
        return value if isinstance(value, str) else ""

    def invocation(self, command: str, place: Place | None = None, **args: object) -> Invocation:
        where = place or self.place
        assert where is not None
        return Invocation(command, args, self.actor, where, self.state.now())

    async def run(self, command: str, place: Place | None = None, **args: object) -> None:
        """Run a registered command as the chat would; its reply becomes a flash message."""
        reply = await self.app.dispatcher.dispatch(self.invocation(command, place, **args))
        if reply is not None:  # None: a flood limit kept quiet (moderators are not limited)
            self.flash(reply.text, error=reply.kind in ERROR_KINDS)

    def flash(self, text: str, *, error: bool = False) -> None:
        """Show ``text`` once: Markdown if it is ``Md`` (a reply), else as typed."""
        shown = Markup(to_html(as_md(text)))
        self.state.flashes.setdefault(self.cookie_hash, []).append(Flash(shown, error))

    def back(self, page: str, fragment: str = "") -> NoReturn:
        raise web.HTTPSeeOther(community_url(self.community_id, page) + fragment)

    def not_found(self, what: str) -> NoReturn:
        self.state.refuse(web.HTTPNotFound, "Not found", f"There is no {what} here.")

    def render(self, template: str, page: str, **values: Any) -> web.Response:
        flashes = self.state.flashes.pop(self.cookie_hash, [])
        return self.state.page(
            template,
            ctx=self,
            current=page,
            flashes=flashes,
            communities=sorted(self.session.communities),
            **values,
        )


async def session_ctx(request: web.Request, *, write: bool = False) -> Ctx:
    state = request.app[STATE]
    cookie = request.cookies.get(COOKIE, "")
    session = await state.app.store.web.session(token_hash(cookie), state.now()) if cookie else None
    if session is None:
        state.refuse(
            web.HTTPUnauthorized,
            "Please sign in",
            "Your session has ended or you have not signed in. Type `dashboard` in the chat "
            "of your community for a new link.",
        )
    ctx = Ctx(state, request, token_hash(cookie), session, csrf_for(cookie))
    if write:
        ctx.form = await guard.read_form(request, state.settings.body_timeout)
        sent = ctx.form.get("csrf")
        if not isinstance(sent, str) or not hmac.compare_digest(
            sent.encode("utf-8"), ctx.csrf.encode("utf-8")
        ):
            state.refuse(
                web.HTTPForbidden,
                "Form refused",
                "This form did not come from your dashboard page (its security token is "
                "missing or wrong). Reload the page and try again.",
            )
    return ctx


async def community_ctx(request: web.Request, *, write: bool = False) -> Ctx:
    ctx = await session_ctx(request, write=write)
    state = ctx.state
    community_id = request.match_info["community"]
    room_id = ctx.session.communities.get(community_id)
    if room_id is None:
        # Not one of this session's communities; say no more than "not found".
        state.refuse(web.HTTPNotFound, "Not found", "There is no such community here.")
    checker = state.checker(ctx.session.platform)
    if checker is not None:
        verdict = await checker.is_moderator(
            ctx.session.platform, community_id, ctx.session.member_id
        )
        if verdict is False:
            await state.app.store.web.drop_community(ctx.cookie_hash, community_id)
            state.refuse(
                web.HTTPForbidden,
                "Moderators only",
                "You are no longer a moderator of this community, so the dashboard is closed "
                "for it.",
            )
    ctx.community_id = community_id
    ctx.place = Place(ctx.session.platform, community_id, room_id)
    return ctx


def download(text: str, content_type: str, filename: str) -> web.Response:
    """A file the browser saves (an export), never cached."""
    return web.Response(
        text=text,
        content_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
