"""Signing in with the chat's one-time link, the index of communities, signing out.

``GET /login?token=...`` shows a page whose vendored script submits the token by POST at
once (a link preview that fetches the URL cannot spend it); ``POST /login`` spends it,
sets the session cookie and redirects to a URL without the token.

Login CSRF (another site's page posting an attacker's own token, to sign the victim in as
the attacker): the page sets a short-lived random cookie and its form carries a nonce
derived from that cookie and the token. ``POST /login`` spends nothing unless both match,
which only the page the dashboard itself served can arrange; the guard middleware also
refuses the post when the browser says it came from another site.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from aiohttp import web

from companion.features.dashboard import token_hash
from companion.web.context import (
    COOKIE,
    STATE,
    WebState,
    community_url,
    session_ctx,
)
from companion.web.guard import read_form

LOGIN_COOKIE = "companion_login"
LOGIN_PAGE_LIFETIME = 10 * 60  # seconds: as long as the link itself
NOT_FROM_LINK = (
    "This sign-in did not come from the page your link opens, so nothing was done. Open the "
    "link from your community's chat again."
)
EXPIRED = (
    "This link has expired or was already used. Type `dashboard` in your community's chat "
    "for a new one."
)


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/", index)
    router.add_get("/login", login_page)
    router.add_post("/login", login)
    router.add_post("/logout", logout)
    router.add_get("/signed-out", signed_out)


async def login_page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token = request.query.get("token", "")
    if not token:
        state.refuse(web.HTTPBadRequest, "No link", EXPIRED)
    cookie = secrets.token_urlsafe(32)
    shown = state.page("login.html", token=token, nonce=login_nonce(cookie, token))
    shown.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=LOGIN_PAGE_LIFETIME,
        path="/login",
        httponly=True,
        samesite="Strict",
        secure=state.settings.secure,
    )
    return shown


def login_nonce(cookie: str, token: str) -> str:
    """What the login form must carry: tied to this browser's cookie and to this token."""
    key = cookie.encode("utf-8")
    message = b"companion-login:" + token.encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


async def login(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = await read_form(request, state.settings.body_timeout)
    token = form.get("token")
    nonce = form.get("nonce")
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not (
        cookie
        and isinstance(token, str)
        and isinstance(nonce, str)
        and hmac.compare_digest(
            nonce.encode("utf-8", "surrogatepass"), login_nonce(cookie, token).encode()
        )
    ):
        state.refuse(web.HTTPForbidden, "Sign-in refused", NOT_FROM_LINK)
    now = state.now()
    found = (
        await state.app.store.web.take_login(token_hash(token), now)
        if isinstance(token, str) and token
        else None
    )
    if found is None:
        state.refuse(web.HTTPForbidden, "Link not valid", EXPIRED)
    target = web.HTTPSeeOther(community_url(found.community_id))
    target.del_cookie(LOGIN_COOKIE, path="/login")
    old = request.cookies.get(COOKIE, "")
    current = await state.app.store.web.session(token_hash(old), now) if old else None
    if (
        current is not None
        and current.platform == found.platform
        and current.member_id == found.member_id
    ):
        await state.app.store.web.add_community(token_hash(old), found.community_id, found.room_id)
        raise target
    cookie = secrets.token_urlsafe(32)
    lifetime = _lifetime(state, found.platform)
    await state.app.store.web.open_session(token_hash(cookie), found, now, now + lifetime)
    target.set_cookie(
        COOKIE,
        cookie,
        max_age=int(lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=state.settings.secure,
    )
    raise target


def _lifetime(state: WebState, platform: str) -> timedelta:
    """Long where every request asks the platform; short where it cannot be asked."""
    if state.checker(platform) is not None:
        return timedelta(hours=state.settings.session_hours)
    return timedelta(minutes=state.settings.unchecked_minutes)


async def index(request: web.Request) -> web.Response:
    ctx = await session_ctx(request)
    return ctx.render("index.html", page="")


async def logout(request: web.Request) -> web.Response:
    ctx = await session_ctx(request, write=True)
    await ctx.app.store.web.end_session(ctx.cookie_hash)
    ctx.state.flashes.pop(ctx.cookie_hash, None)
    done = web.HTTPSeeOther("/signed-out")
    done.del_cookie(COOKIE, path="/")
    raise done


async def signed_out(request: web.Request) -> web.Response:
    return request.app[STATE].page("signed_out.html")
