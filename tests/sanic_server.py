"""A real Sanic app served on a free loopback port from a background thread, for channel tests.

Sanic 21.12's own test client lives in the separate `sanic-testing` package, which is not installed
(and the copy of `sanic/testing.py` shipped in the 21.12.2 wheel no longer runs with it). This uses
Sanic's public `create_server` lifecycle instead: startup, the before/after start listeners (so a
blueprint's `before_server_start` hook runs as in production), then a real HTTP server.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from email.message import Message
from typing import Dict, Iterator, Optional, Tuple

from sanic import Sanic


@contextmanager
def serving(app: Sanic) -> Iterator[str]:
    """Serves `app` until the block ends; yields its base URL (http://127.0.0.1:PORT)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list = []
    holder: dict = {}

    async def start() -> None:
        server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await server.startup()
        await server.before_start()
        await server.after_start()
        await server.start_serving()
        holder["server"] = server

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as error:  # reported to the test thread below
            failure.append(error)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="sanic-test-server", daemon=True)
    thread.start()
    started.wait(30)
    if failure:
        raise RuntimeError("The test server did not start") from failure[0]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:

        async def stop() -> None:
            server = holder["server"]
            await server.before_stop()
            await server.close()
            await server.after_stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        sock.close()


def http(
    url: str,
    data: Optional[bytes] = None,
    headers: Optional[Dict[str, str]] = None,
    method: Optional[str] = None,
) -> Tuple[int, Message, str]:
    """(status, headers (case-insensitive), text) of one request; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.headers, reply.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode("utf-8", "replace")
