"""Rasa's HTTP API behind bot.staff.api_auth, on a real app from rasa.server.create_app with a JWT
secret, served by a real Sanic server; and the staff tools' short-lived API token.

No model is loaded, so an accepted admin token on GET /status gets Rasa's 409 "No agent loaded":
it got past authentication.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Iterator

import jwt
import pytest
import rasa.server
from sanic import Sanic

from bot.staff.api_auth import install_api_auth_guard
from bot.staff.models import API_TOKEN_LIFETIME, api_token
from tests.sanic_server import http, serving

SECRET = "api-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789"
ADMIN = {"user": {"username": "staff-tools", "role": "admin"}}
AUTHENTICATED = 409  # no agent loaded: past authentication


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def in_a_minute() -> int:
    return int(time.time()) + 60


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Sanic, "test_mode", True)  # Rasa names every app "rasa_server"
        app = rasa.server.create_app(jwt_secret=SECRET, jwt_method="HS256", cors_origins=None)

        @app.get("/probe/unguarded")
        async def unguarded(request):
            """A route the guard does not know, decoding the token through sanic-jwt itself."""
            from sanic.response import json

            return json({"valid": await request.app.ctx.auth.is_authenticated(request)})

        install_api_auth_guard(app)
        try:
            with serving(app) as base_url:
                yield base_url
        finally:
            Sanic._app_registry.pop(app.name, None)


BAD_TOKENS = {
    "alg none": lambda: jwt.encode({**ADMIN, "exp": in_a_minute()}, None, algorithm="none"),
    "HS512": lambda: jwt.encode({**ADMIN, "exp": in_a_minute()}, SECRET, algorithm="HS512"),
    "wrong key": lambda: jwt.encode(
        {**ADMIN, "exp": in_a_minute()}, "another-secret-" * 4, algorithm="HS256"
    ),
    # sanic-jwt allows 180 s after exp, so a token expired 30 s ago used to pass.
    "expired": lambda: jwt.encode({**ADMIN, "exp": int(time.time()) - 30}, SECRET, algorithm="HS256"),
    "no exp": lambda: jwt.encode(ADMIN, SECRET, algorithm="HS256"),
    "non-string sub": lambda: jwt.encode(
        {**ADMIN, "sub": 7, "exp": in_a_minute()}, SECRET, algorithm="HS256"
    ),
    "user not an object": lambda: jwt.encode(
        {"user": "admin", "exp": in_a_minute()}, SECRET, algorithm="HS256"
    ),
    "garbage": lambda: "abc.def.ghi",
    "not a jwt": lambda: "nonsense",
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
@pytest.mark.parametrize("method, path", [("GET", "/status"), ("PUT", "/model"), ("GET", "/auth/verify")])
def test_a_bad_token_gets_401_never_500(api, kind, method, path):
    status, headers, body = http(
        api + path, data=b"{}" if method == "PUT" else None, headers=bearer(BAD_TOKENS[kind]()), method=method
    )
    assert status == 401, (kind, status, body[:200])
    if path != "/auth/verify":
        assert '"reason":"NotAuthenticated"' in body  # Rasa's own 401 body
        assert headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic ZGFuYTpwdw==", "Bearer", "Bearer a b", "bearer x.y.z"])
def test_a_malformed_authorization_header_gets_401(api, header):
    assert http(api + "/status", headers={"Authorization": header})[0] == 401


def test_a_good_hs256_token_with_exp_gets_through(api):
    token = jwt.encode({**ADMIN, "exp": in_a_minute()}, SECRET, algorithm="HS256")
    assert http(api + "/status", headers=bearer(token))[0] == AUTHENTICATED


def test_rasas_own_scope_check_still_applies(api):
    """A valid token for a patient-scoped user may not read the server status (Rasa's 403)."""
    token = jwt.encode({"user": {"username": "c1", "role": "user"}, "exp": in_a_minute()}, SECRET)
    assert http(api + "/status", headers=bearer(token))[0] == 403
    assert http(api + "/status")[0] == 401  # no token at all: Rasa refuses it


def test_routes_without_authentication_ignore_the_header(api):
    none_token = BAD_TOKENS["alg none"]()
    assert http(api + "/version", headers=bearer(none_token))[0] == 200
    assert http(api + "/", headers=bearer(none_token))[0] == 200


def test_a_token_error_escaping_anywhere_else_is_a_401(api):
    """The error handler behind the middleware: sanic-jwt raising InvalidAlgorithmError."""
    status, _, body = http(api + "/probe/unguarded", headers=bearer(BAD_TOKENS["HS512"]()))
    assert status == 401, body[:200]


def test_a_server_without_a_jwt_secret_is_left_alone():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Sanic, "test_mode", True)
        app = rasa.server.create_app(cors_origins=None)
        try:
            before = list(app.request_middleware)
            install_api_auth_guard(app)
            assert list(app.request_middleware) == before
        finally:
            Sanic._app_registry.pop(app.name, None)


# --- the staff tools' token -------------------------------------------------------------------


def test_the_staff_tools_token_expires_after_five_minutes():
    claims = jwt.decode(api_token(SECRET), SECRET, algorithms=["HS256"], options={"require": ["exp", "iat"]})
    assert claims["exp"] - claims["iat"] == API_TOKEN_LIFETIME.total_seconds() == 300
    assert abs(claims["iat"] - time.time()) < 5 and claims["user"] == ADMIN["user"]
    minted_earlier = datetime.now(timezone.utc) - API_TOKEN_LIFETIME - timedelta(seconds=1)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(api_token(SECRET, issued_at=minted_earlier), SECRET, algorithms=["HS256"])


def test_the_api_takes_a_fresh_staff_token_and_refuses_a_stale_one(api):
    assert http(api + "/status", headers=bearer(api_token(SECRET)))[0] == AUTHENTICATED
    six_minutes_ago = datetime.now(timezone.utc) - timedelta(minutes=6)
    assert http(api + "/status", headers=bearer(api_token(SECRET, issued_at=six_minutes_ago)))[0] == 401
