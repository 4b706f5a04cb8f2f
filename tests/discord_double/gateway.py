"""The gateway half of the double: websocket sessions with HELLO, IDENTIFY/READY, RESUME,
and shards (each session receives the events of its shard's guilds).

Frames are zlib-stream compressed (one deflate context per connection, every frame ending in
Z_SYNC_FLUSH) when the client asks for ``compress=zlib-stream``, as discord.py does by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .models import JSON, Intent

if TYPE_CHECKING:
    from .server import DiscordDouble

HEARTBEAT_INTERVAL_MS = 41250
BACKLOG = 1000

# Close codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes)
UNKNOWN_OPCODE, DECODE_ERROR, NOT_AUTHENTICATED, AUTH_FAILED, ALREADY_AUTHENTICATED = (
    4001,
    4002,
    4003,
    4004,
    4005,
)
INVALID_SHARD = 4010
INVALID_VERSION, INVALID_INTENTS, DISALLOWED_INTENTS = 4012, 4013, 4014


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    zlib: Any = None  # a zlib compressobj when the client asked for zlib-stream
    authenticated: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, payload: JSON) -> None:
        text = json.dumps(payload)
        async with self.lock:
            if self.ws.closed:
                return
            with contextlib.suppress(ConnectionError, RuntimeError):
                if self.zlib is None:
                    await self.ws.send_str(text)
                else:
                    data = self.zlib.compress(text.encode()) + self.zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)


@dataclass(eq=False)
class Session:
    """One identified session: a shard ``(shard_id, shard_count)`` of the bot's guilds, with
    its own sequence numbers and backlog, as Discord keeps them per session."""

    session_id: str
    intents: int
    shard: tuple[int, int] = (0, 1)
    seq: int = 0
    backlog: list[JSON] = field(default_factory=list)
    current: Connection | None = None

    def serves(self, guild_id: int | None) -> bool:
        """Discord's split: a guild is on shard (id >> 22) % count; DMs go to shard 0."""
        shard_id, count = self.shard
        return (0 if guild_id is None else (guild_id >> 22) % count) == shard_id

    async def dispatch(self, event: str, data: JSON) -> int:
        self.seq += 1
        frame = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.backlog = [*self.backlog[-BACKLOG:], frame]
        if self.current is not None:
            await self.current.send(frame)
        return self.seq


def event_guild(event: str, data: JSON) -> int | None:
    """The guild an event belongs to, which picks the shard that receives it."""
    if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"):
        return int(data["id"])
    guild_id = data.get("guild_id")
    return int(guild_id) if guild_id is not None else None


class Gateway:
    """Sessions by id. Every event goes to each session whose shard holds its guild: one
    session unless the bot shards, and two if two processes identified the same shard."""

    def __init__(self, double: DiscordDouble) -> None:
        self.double = double
        self.identify_count = 0
        self.resume_count = 0
        self.handshakes = 0  # completed READY or RESUMED
        self.identify_payloads: list[JSON] = []
        self.presence_updates: list[JSON] = []
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()

    @property
    def latest(self) -> Session | None:
        """The session identified last: the bot's only one, unless it shards."""
        return next(reversed(self.sessions.values()), None)

    @property
    def current(self) -> Connection | None:
        return self.latest.current if self.latest else None

    def wants(self, intent: int) -> bool:
        return any(s.intents & intent for s in self.sessions.values())

    async def invalidate(self, resumable: bool) -> None:
        """Opcode 9 on the latest session; unless resumable it is forgotten first, so the
        bot must IDENTIFY (and a RESUME of it is refused)."""
        session = self.latest
        if session is None or session.current is None:
            raise RuntimeError("no gateway connection")
        if not resumable:
            del self.sessions[session.session_id]
        await session.current.send({"op": 9, "d": resumable, "s": None, "t": None})

    # --- outgoing ---------------------------------------------------------------------

    async def dispatch(self, event: str, data: JSON) -> int:
        """Send (or, while disconnected, queue for RESUME) one DISPATCH to the sessions of its
        guild's shard; returns the sequence number of the last one it went to."""
        guild_id = event_guild(event, data)
        targets = [s for s in self.sessions.values() if s.serves(guild_id)]
        if not targets:
            raise RuntimeError(f"cannot dispatch {event}: no session serves guild {guild_id}")
        return [await session.dispatch(event, data) for session in targets][-1]

    async def close_current(self, code: int) -> None:
        session = self.latest
        if session is not None and session.current is not None:
            conn, session.current = session.current, None
            await conn.ws.close(code=code)

    async def send_op(self, op: int, data: Any = None) -> None:
        if self.current is None:
            raise RuntimeError("no gateway connection")
        await self.current.send({"op": op, "d": data, "s": None, "t": None})

    async def close_all(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close(code=1001)

    # --- incoming ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=4096 * 1024)
        await ws.prepare(request)
        query = request.query
        conn = Connection(
            ws, zlib.compressobj() if query.get("compress") == "zlib-stream" else None
        )
        self.connections.add(conn)
        try:
            if query.get("v", "10") != "10":
                await ws.close(code=INVALID_VERSION, message=b"Invalid API version")
                return ws
            if query.get("encoding", "json") != "json":
                await ws.close(code=DECODE_ERROR, message=b"Only json encoding is supported")
                return ws
            await conn.send({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    await ws.close(code=DECODE_ERROR, message=b"Error while decoding payload.")
                    break
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=DECODE_ERROR, message=b"Error while decoding payload.")
                    break
                await self._receive(conn, payload)
        finally:
            self.connections.discard(conn)
            for session in self.sessions.values():
                if session.current is conn:
                    session.current = None
            self.double._touch()
        return ws

    async def _receive(self, conn: Connection, payload: JSON) -> None:
        op, d = payload.get("op"), payload.get("d")
        data: JSON = d if isinstance(d, dict) else {}
        if op == 1:
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op in (2, 6) and conn.authenticated:
            await conn.ws.close(code=ALREADY_AUTHENTICATED, message=b"Already authenticated.")
        elif op in (2, 6) and data.get("token") != self.double.token:
            await conn.ws.close(code=AUTH_FAILED, message=b"Authentication failed.")
        elif op == 2:
            await self._identify(conn, data)
        elif op == 6:
            await self._resume(conn, data)
        elif not conn.authenticated:
            await conn.ws.close(code=NOT_AUTHENTICATED, message=b"Not authenticated.")
        elif op == 3:
            self.presence_updates.append(data)
        elif op == 4:
            pass  # voice state update: nothing to do
        elif op == 8:
            await self._request_members(data)
        else:
            await conn.ws.close(code=UNKNOWN_OPCODE, message=b"Unknown opcode.")

    async def _identify(self, conn: Connection, data: JSON) -> None:
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0:
            await conn.ws.close(code=INVALID_INTENTS, message=b"Invalid intent(s).")
            return
        if intents & Intent.PRIVILEGED & ~self.double.privileged_intents:
            await conn.ws.close(code=DISALLOWED_INTENTS, message=b"Disallowed intent(s).")
            return
        shard = data.get("shard", [0, 1])
        if not (
            isinstance(shard, list)
            and len(shard) == 2
            and all(isinstance(n, int) for n in shard)
            and 0 <= shard[0] < shard[1]
        ):
            await conn.ws.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return
        self.identify_count += 1
        self.identify_payloads.append(data)
        session = Session(uuid.uuid4().hex, intents, (shard[0], shard[1]), current=conn)
        self.sessions[session.session_id] = session
        conn.authenticated = True
        double = self.double
        guilds = [g for g in double.guilds if session.serves(g.id)]
        ready = {
            "v": 10,
            "user": double.bot.payload() | {"verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": double.gateway_url,
            "application": {"id": str(double.application_id), "flags": double.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["discord-double"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await session.dispatch("READY", ready)
        for guild in guilds:
            await session.dispatch("GUILD_CREATE", double.guild_create_payload(guild, intents))
        self.handshakes += 1
        double._touch()

    async def _resume(self, conn: Connection, data: JSON) -> None:
        seq = data.get("seq")
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not isinstance(seq, int) or seq > session.seq:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        self.resume_count += 1
        conn.authenticated, session.current = True, conn
        for frame in session.backlog:
            if frame["s"] > seq:
                await conn.send(frame)
        await session.dispatch("RESUMED", {"_trace": ["discord-double"]})
        self.handshakes += 1
        self.double._touch()

    async def _request_members(self, data: JSON) -> None:
        guild = self.double.guild(int(data["guild_id"]))
        if guild is None:
            return
        members = guild.members
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.id in wanted]
        elif data.get("query"):
            members = [m for m in members if m.user.username.startswith(data["query"])]
        limit = data.get("limit") or 0
        if limit:
            members = members[:limit]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)
