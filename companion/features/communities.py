"""Community settings: the time zone every local date and time of a community is read in."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from companion.commands import CommandSpec, Param, UserError
from companion.events import Invocation, Kind, Reply
from companion.fmt import bold, code, fmt, join
from companion.store import Store


@cache
def all_zones() -> list[str]:
    """IANA zone names (read from the tz database once)."""
    return sorted(z for z in available_timezones() if "/" in z or z == "UTC")


@cache
def _zones_by_lowercase() -> dict[str, str]:
    return {z.lower(): z for z in all_zones()}


def parse_zone(name: str) -> ZoneInfo:
    """An IANA zone by name, case forgiven; a clear UserError otherwise."""
    cleaned = name.strip()
    if cleaned == "UTC":  # the default: no walk of the tz database (10 ms at start, issue 24)
        return ZoneInfo(cleaned)
    exact = _zones_by_lowercase().get(cleaned.lower())
    if exact:
        return ZoneInfo(exact)
    try:
        if "/" in cleaned or cleaned == "UTC":
            return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    from rapidfuzz import fuzz, process  # loaded on first fuzzy match: 3 MB RSS (issue 24)

    close = process.extract(cleaned, all_zones(), scorer=fuzz.WRatio, limit=3, score_cutoff=70)
    hint = fmt(" Did you mean {}?", join(code(z) for z, _, _ in close)) if close else ""
    raise UserError(
        fmt(
            "{} is not a time zone I know (use a name like `Europe/Berlin`).{}",
            code(cleaned[:60]),
            hint,
        )
    )


async def complete_zone(inv: Invocation, partial: str) -> Sequence[str]:
    from rapidfuzz import fuzz, process  # loaded on first fuzzy match: 3 MB RSS (issue 24)

    if not partial:
        return ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
    found = process.extract(partial, all_zones(), scorer=fuzz.WRatio, limit=25)
    return [z for z, _, _ in found]


class Communities:
    """Time zones per community, cached in memory (read on every date computation)."""

    def __init__(self, store: Store, default_zone: str) -> None:
        self.store = store
        self.default = parse_zone(default_zone)
        self._zones: dict[str, ZoneInfo] = {}

    async def load(self) -> None:
        for community_id, name in (await self.store.communities.timezones()).items():
            try:
                self._zones[community_id] = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue

    def zone(self, community_id: str) -> ZoneInfo:
        return self._zones.get(community_id, self.default)

    async def set_zone(self, community_id: str, zone: ZoneInfo) -> None:
        await self.store.communities.set_timezone(community_id, zone.key)
        self._zones[community_id] = zone

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "timezone",
                "Show or set this community's time zone (moderators set it)",
                self.timezone,
                params=(
                    Param(
                        "zone",
                        "An IANA time zone, e.g. Europe/Berlin",
                        required=False,
                        complete=complete_zone,
                    ),
                ),
                in_direct=False,
                examples=("timezone", "timezone America/New_York"),
            )
        ]

    async def timezone(self, inv: Invocation) -> Reply:
        community = inv.place.community_id
        name = inv.args.get("zone")
        if name is None:
            zone = self.zone(community)
            now = inv.at.astimezone(zone).strftime("%H:%M")
            return Reply(
                fmt("This community's time zone is {} (it is {} there now).", bold(zone.key), now)
            )
        if not inv.actor.is_moderator:
            raise UserError("Only moderators can change the time zone.")
        zone = parse_zone(str(name))
        await self.set_zone(community, zone)
        now = inv.at.astimezone(zone).strftime("%H:%M")
        return Reply(
            fmt("Time zone set to {} (it is {} there now).", bold(zone.key), now),
            kind=Kind.CONFIRMATION,
        )
