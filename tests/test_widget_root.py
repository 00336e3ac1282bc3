"""The demo page at GET /, without a model or a browser: Rasa's own app factory (which registers
"Hello from Rasa" at /) with the widget channel, served by a real Sanic server on loopback.

tests/test_e2e_widget.py drives the page in Chromium but needs a trained model; this checks in a
second that the widget's hook still takes over GET / after a Rasa or Sanic upgrade.
"""

from __future__ import annotations

import json
from typing import Iterator

import pytest
from sanic import Sanic

from bot.channels.widget import DEMO_PAGE, DEMO_PAGE_POLICY, WidgetInput
from tests.sanic_server import http, serving


def rasa_app(widget: WidgetInput) -> Sanic:
    from rasa.core.run import configure_app

    # As bot/server.py builds it: the HTTP API on (JWT), so Rasa's root route and API routes exist.
    return configure_app(
        [widget], enable_api=True, jwt_secret="test-jwt-secret-" + "0" * 16, jwt_method="HS256"
    )


@pytest.fixture
def base_url(monkeypatch) -> Iterator[str]:
    monkeypatch.setattr(Sanic, "test_mode", True)  # Rasa names every app "rasa_server"
    with serving(rasa_app(WidgetInput())) as url:
        yield url


def test_get_root_is_the_demo_page_with_its_content_security_policy(base_url):
    status, headers, body = http(base_url + "/")
    assert status == 200
    assert headers["Content-Security-Policy"] == DEMO_PAGE_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Type"].startswith("text/html")
    assert body == DEMO_PAGE.read_text(encoding="utf-8") and "Hello from Rasa" not in body


def test_the_demo_page_is_also_at_its_own_path(base_url):
    status, headers, body = http(base_url + "/webhooks/widget/demo")
    assert status == 200 and headers["Content-Security-Policy"] == DEMO_PAGE_POLICY
    assert body == DEMO_PAGE.read_text(encoding="utf-8")


def test_other_routes_and_methods_are_left_to_rasa(base_url):
    status, _, body = http(base_url + "/version")
    assert status == 200 and "version" in json.loads(body)
    assert http(base_url + "/", data=b"", method="POST")[0] == 405
    assert http(base_url + "/webhooks/widget/")[0] == 200  # the channel's own health route


def test_without_serve_demo_at_root_rasa_keeps_its_root(monkeypatch):
    monkeypatch.setattr(Sanic, "test_mode", True)
    with serving(rasa_app(WidgetInput(serve_demo_at_root=False))) as url:
        status, headers, body = http(url + "/")
    assert status == 200 and body.startswith("Hello from Rasa")
    assert "Content-Security-Policy" not in headers
