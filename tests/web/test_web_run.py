"""`companion run` serves the dashboard beside the console adapter, in one process: the link
printed in the terminal signs a browser in."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys

from aiohttp import ClientConnectorError, ClientSession, CookieJar


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_serves_the_dashboard_beside_the_console(tmp_path):
    port = _free_port()
    config = tmp_path / "companion.toml"
    config.write_text(
        '[storage]\npath = "bot.db"\n[console]\nenabled = true\n'
        f'[web]\nenabled = true\nport = {port}\npublic_url = "http://127.0.0.1:{port}/"\n'
    )
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "companion", "run", "--config", str(config)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(b"dashboard\n")
        await process.stdin.drain()
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        match = re.search(rf"<(http://127\.0\.0\.1:{port}/login\?token=[\w-]+)>", line.decode())
        assert match, line
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as client:
            for _ in range(100):  # the server may still be starting when the link is printed
                try:
                    shown = await client.get(match.group(1))
                    break
                except ClientConnectorError:
                    await asyncio.sleep(0.05)
            assert shown.status == 200
            token = match.group(1).split("token=")[1]
            nonce = re.search(r'name="nonce" value="([0-9a-f]+)"', await shown.text())
            assert nonce, await shown.text()
            landed = await client.post(
                f"http://127.0.0.1:{port}/login", data={"token": token, "nonce": nonce.group(1)}
            )
            assert landed.status == 200
            assert str(landed.url).endswith("/c/console:local/schedules")
            assert "Schedules" in await landed.text()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0, err.decode()
    assert f"dashboard on 127.0.0.1:{port}" in err.decode()
    assert "token" not in err.decode()
