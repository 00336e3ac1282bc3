"""Real peers on loopback for notification tests: an SMTP server (aiosmtpd) and a webhook receiver."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import List, Tuple

from tests.conftest import free_port


class RecordingSMTPHandler:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: List[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


class WebhookReceiver:
    """An HTTP server on a free loopback port recording (headers, JSON body) of each POST."""

    def __init__(self) -> None:
        self.calls: List[Tuple[dict, dict]] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                calls.append((dict(self.headers), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):  # keep test output clean
                pass

        self._server = HTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/bookings"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
