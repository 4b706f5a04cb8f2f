"""The floor for bench/matrix_latency.py: a bare matrix-nio client that sends each text back.

Imports nothing but nio, so it runs in any of the bench's venvs (the plain install's, where
nio has no encryption, and the e2e install's). With ``--encrypt`` it is an encrypting client
(its own crypto store, keys uploaded and queried as any Element-like client does), the floor
for an encrypted room. It keeps its sync position in ``--since-file``, so a restart answers
a line sent while it was starting, as the bots do (the spawn -> first reply figure).

Usage (from the bench): python matrix_echo.py URL USER_ID DEVICE_ID ROOM_ID --since-file F
[--encrypt STORE_DIR]; the access token comes in BENCH_ECHO_TOKEN.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from nio import AsyncClient, AsyncClientConfig, RoomMessageText, SyncResponse


async def keep_up(client: AsyncClient) -> None:
    if client.olm is None:
        return
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.outgoing_to_device_messages:
        await client.send_to_device_messages()


def answer(body: str, event_id: str) -> dict[str, Any]:
    echoed: dict[str, Any] = {"msgtype": "m.notice", "body": body}
    if body.startswith("big "):  # as many bytes as the bot's reply (body and HTML)
        size, html = (int(n) for n in body.split()[1:3])
        echoed = {
            "msgtype": "m.notice",
            "body": "x" * size,
            "format": "org.matrix.custom.html",
            "formatted_body": "x" * html,
            "m.mentions": {},
        }
    echoed["m.relates_to"] = {"m.in_reply_to": {"event_id": event_id}}
    return echoed


def saved(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def save(path: Path, since: str) -> None:
    path.write_text(since)  # a few bytes per sync; the bots keep theirs too


class Args:
    """The command line, read by hand: argparse would add 0.8 MB to the floor's RSS."""

    def __init__(self, argv: list[str]) -> None:
        self.url, self.user_id, self.device_id, self.room_id = argv[:4]
        options = dict(zip(argv[4::2], argv[5::2], strict=True))
        self.since_file = options["--since-file"]
        self.encrypt = options.get("--encrypt", "")


async def main(args: Args) -> None:
    token = os.environ["BENCH_ECHO_TOKEN"]
    if args.encrypt:
        client = AsyncClient(
            args.url,
            args.user_id,
            device_id=args.device_id,
            store_path=args.encrypt,
            config=AsyncClientConfig(encryption_enabled=True),
        )
    else:
        client = AsyncClient(args.url, args.user_id)
    client.restore_login(args.user_id, args.device_id, token)
    since_file = Path(args.since_file)
    since = saved(since_file)
    try:
        if since is None:  # first start: join, skip the history, say ready
            await client.join(args.room_id)
            first = await client.sync(timeout=0, full_state=True)
            assert isinstance(first, SyncResponse), first
            since = first.next_batch
            save(since_file, since)
            await keep_up(client)
            await client.room_send(
                args.room_id,
                "m.room.message",
                {"msgtype": "m.notice", "body": "ready"},
                ignore_unverified_devices=True,
            )
        while True:
            response = await client.sync(timeout=30_000, since=since, full_state=since is None)
            if not isinstance(response, SyncResponse):
                continue
            since = response.next_batch
            save(since_file, since)
            await keep_up(client)
            for room, info in response.rooms.join.items():
                for event in info.timeline.events:
                    if event.sender == args.user_id or not isinstance(event, RoomMessageText):
                        continue
                    await client.room_send(
                        room,
                        "m.room.message",
                        answer(event.body, event.event_id),
                        ignore_unverified_devices=True,
                    )
    finally:
        await client.close()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    arguments = Args(sys.argv[1:])
    try:
        if arguments.encrypt:
            Path(arguments.encrypt).mkdir(exist_ok=True)
        asyncio.run(main(arguments))
    except KeyboardInterrupt:
        pass
