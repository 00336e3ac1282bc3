"""The website chat widget, served by the bot itself (no CDN, no third-party requests).

- GET /webhooks/widget/clinic-chat.js  the one-file widget (widget/ built by `make setup`)
- GET /webhooks/widget/config          clinic name, phone and title from clinic.yml (the widget's
                                       failure message needs the phone; staff edits show at once)
- GET /  and /webhooks/widget/demo     a demo page embedding the widget with one <script> tag

The widget talks to the REST channel (stateless, any number of workers); see docs/decisions.md.
Cross-origin embedding is allowed only for the exact origins in BOT_CORS_ORIGINS (Rasa's --cors).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import PROJECT_ROOT
from bot.clinic import clinic_settings_or_none

logger = logging.getLogger(__name__)

WIDGET_DIR = PROJECT_ROOT / "widget"
BUNDLE = WIDGET_DIR / "dist" / "clinic-chat.js"
DEMO_PAGE = WIDGET_DIR / "demo" / "index.html"
DEFAULT_TITLE = "Spine clinic assistant"

# The demo page loads nothing but our own files; inline <style> is how the widget styles its
# shadow root. A CSP that says so also proves, in the browser tests, that nothing else is fetched.
DEMO_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
NOT_BUILT = (
    "The chat widget is not built. Install Node.js 20+ and run `make setup` (it runs npm ci and the "
    "build in widget/)."
)


class WidgetInput(InputChannel):
    """Serves the widget; the messages themselves go through the REST channel."""

    def __init__(self, title: str = "", serve_demo_at_root: bool = True) -> None:
        self.title = title or DEFAULT_TITLE
        self.serve_demo_at_root = serve_demo_at_root

    @classmethod
    def name(cls) -> str:
        return "widget"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict]) -> "WidgetInput":
        credentials = credentials or {}
        return cls(
            title=str(credentials.get("title") or ""),
            serve_demo_at_root=bool(credentials.get("serve_demo_at_root", True)),
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        widget = Blueprint("clinic_chat_widget", __name__)

        @widget.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if BUNDLE.exists() else "not built"})

        @widget.route("/clinic-chat.js", methods=["GET"])
        async def bundle(request: Request) -> HTTPResponse:
            return await _static(BUNDLE, "application/javascript; charset=utf-8")

        @widget.route("/config", methods=["GET"])
        async def config(request: Request) -> HTTPResponse:
            clinic = clinic_settings_or_none()
            body = {
                "clinic_name": clinic.name if clinic else "",
                "phone": clinic.phone if clinic else "",
                "title": self.title,
            }
            return response.json(body, headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})

        @widget.route("/demo", methods=["GET"])
        async def demo(request: Request) -> HTTPResponse:
            return await demo_page(request)

        if self.serve_demo_at_root:
            widget.listener("before_server_start")(_serve_demo_at_root)
        return widget


async def demo_page(request: Request) -> HTTPResponse:
    if not DEMO_PAGE.exists():
        return response.text(NOT_BUILT, status=404)
    headers = {"Content-Security-Policy": DEMO_PAGE_POLICY, "Cache-Control": "no-cache", **SECURITY_HEADERS}
    return response.html(DEMO_PAGE.read_text(encoding="utf-8"), headers=headers)


async def _static(path: Path, content_type: str) -> HTTPResponse:
    if not path.exists():
        return response.text(NOT_BUILT, status=404)
    headers = {"Cache-Control": "no-cache", **SECURITY_HEADERS}
    return await response.file(path, mime_type=content_type, headers=headers)


async def _serve_demo_at_root(app: Sanic, loop: Any) -> None:
    """Rasa answers GET / with "Hello from Rasa"; a new user should see the chat there instead.

    Sanic 21.12 refuses a second route for "/" and offers no public way to replace one (its router
    is compiled at startup). An app-level request middleware, a public hook that runs after routing
    and before the handler, answers GET / instead and leaves Rasa's route and the router untouched.
    Registering it again (one call per worker) is a no-op: Sanic keeps one copy of a middleware.
    """
    app.register_middleware(_demo_at_root, "request")


async def _demo_at_root(request: Request) -> Optional[HTTPResponse]:
    if request.method == "GET" and request.path == "/":
        return await demo_page(request)
    return None  # every other request goes on to its own route
