"""Links members share: checked, and normalized so the same page is recognised twice."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from companion.commands import UserError

MAX_URL = 500
_TRACKING = {
    "fbclid",
    "gclid",
    "dclid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "ref",
    "ref_src",
    "si",
    "spm",
    "yclid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
}


def check(url: str) -> str:
    """The link as given, if it is a plain http(s) link; a UserError otherwise."""
    url = url.strip().strip("<>")
    if len(url) > MAX_URL:
        raise UserError(f"That link is too long (at most {MAX_URL} characters).")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UserError("Share a web link that starts with http:// or https://.")
    if any(ch.isspace() for ch in url) or parts.username or parts.password:
        raise UserError("That does not look like a plain web link.")
    return url


def normalize(url: str) -> str:
    """A key for duplicates: no scheme, www., default port, trailing slash, tracking params."""
    parts = urlsplit(check(url))
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING
    )
    return urlunsplit(("", host, path, urlencode(query), "")).lstrip("/")
