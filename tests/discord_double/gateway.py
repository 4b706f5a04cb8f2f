"""The gateway half of the double: one websocket session with HELLO, IDENTIFY/READY, RESUME.

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


class Gateway:
    def __init__(self, double: DiscordDouble) -> None:
        self.double = double
        self.identify_count = 0
        self.resume_count = 0
        self.handshakes = 0  # completed READY or RESUMED
        self.identify_payloads: list[JSON] = []
        self.presence_updates: list[JSON] = []
        self.session_id: str | None = None
        self.intents = 0
        self.seq = 0
        self.backlog: list[JSON] = []
        self.current: Connection | None = None
        self.connections: set[Connection] = set()

    # --- outgoing ---------------------------------------------------------------------

    async def dispatch(self, event: str, data: JSON) -> int:
        """Send (or, while disconnected, queue for RESUME) one DISPATCH; returns its sequence."""
        if self.session_id is None:
            raise RuntimeError(f"cannot dispatch {event}: the bot has not identified yet")
        self.seq += 1
        frame = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.backlog = [*self.backlog[-BACKLOG:], frame]
        if self.current is not None:
            await self.current.send(frame)
        return self.seq

    async def close_current(self, code: int) -> None:
        if self.current is not None:
            conn, self.current = self.current, None
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
            if self.current is conn:
                self.current = None
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
        self.identify_count += 1
        self.identify_payloads.append(data)
        self.session_id, self.intents, self.seq, self.backlog = uuid.uuid4().hex, intents, 0, []
        conn.authenticated, self.current = True, conn
        double = self.double
        ready = {
            "v": 10,
            "user": double.bot.payload() | {"verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in double.guilds],
            "session_id": self.session_id,
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
        await self.dispatch("READY", ready)
        for guild in double.guilds:
            await self.dispatch("GUILD_CREATE", double.guild_create_payload(guild))
        self.handshakes += 1
        double._touch()

    async def _resume(self, conn: Connection, data: JSON) -> None:
        seq = data.get("seq")
        if data.get("session_id") != self.session_id or not isinstance(seq, int) or seq > self.seq:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        self.resume_count += 1
        conn.authenticated, self.current = True, conn
        for frame in self.backlog:
            if frame["s"] > seq:
                await conn.send(frame)
        await self.dispatch("RESUMED", {"_trace": ["discord-double"]})
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
