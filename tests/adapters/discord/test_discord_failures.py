"""discord.py's errors as the scheduler's kinds of failure (companion.ports, issue 22): a
refusal pauses a schedule, what may get better is retried."""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp
import discord
import pytest

from companion.ports import PermanentFailure, PostError, TransientFailure
from companion_adapters.discord.port import post_errors


def http_error(kind: type[discord.HTTPException], status: int) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason="reason")
    return kind(response, {"message": f"status {status}", "code": 0})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (http_error(discord.Forbidden, 403), PermanentFailure),  # Missing Access
        (http_error(discord.NotFound, 404), PermanentFailure),  # Unknown Channel
        (http_error(discord.HTTPException, 400), PermanentFailure),  # e.g. a forum's tag
        (http_error(discord.HTTPException, 429), TransientFailure),
        (http_error(discord.DiscordServerError, 503), TransientFailure),
        (aiohttp.ClientConnectionError("reset"), TransientFailure),
        (TimeoutError(), TransientFailure),
    ],
    ids=[
        "forbidden",
        "not-found",
        "bad-request",
        "rate-limited",
        "server-error",
        "network",
        "timeout",
    ],
)
def test_discord_errors_are_classified(error: Exception, expected: type[PostError]) -> None:
    with pytest.raises(expected) as raised, post_errors("posting to 42"):
        raise error
    assert "posting to 42" in str(raised.value)
