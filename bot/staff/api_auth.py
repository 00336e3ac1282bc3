"""A strict check of the Bearer JWT on Rasa's HTTP API, in front of Rasa's own check.

Rasa 3.6 checks API tokens with sanic-jwt 1.8, which:
- lets PyJWT's InvalidAlgorithmError (and other InvalidTokenError kinds, e.g. a non-string `sub`)
  escape, so a token with `alg: none` or signed with HS512 gets a 500, not a 401;
- accepts tokens without `exp`, and expired ones for 180 s more (its default leeway).

`install_api_auth_guard(app)` adds a request middleware that, on the routes Rasa protects (and
sanic-jwt's own /auth routes), decodes any Authorization header itself with PyJWT: only the
configured algorithm, the configured key, `exp` required, CLOCK_LEEWAY of slack. Anything it cannot
verify gets Rasa's usual 401 body. A request without the header goes on to Rasa, which refuses it
(or accepts its `?token=`). Rasa's own check still runs after ours, so its scopes (admin, user)
stay as they are. An error handler turns any InvalidTokenError that still escapes into a 401 too.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from http import HTTPStatus
from types import CodeType
from typing import Any, Callable, Dict, Optional

import jwt
import rasa.server
from rasa.server import ErrorResponse
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json
from sanic_routing import Route

logger = logging.getLogger(__name__)

CLOCK_LEEWAY = timedelta(seconds=10)  # clock drift between the staff tools and the server
CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class _Refused(Exception):
    """Why a token was refused, for the log (never the token itself)."""


class TokenVerifier:
    """Decodes `<prefix> <jwt>` header values with one algorithm and key, `exp` required."""

    def __init__(self, key: str, algorithm: str, prefix: str = "Bearer") -> None:
        if algorithm.lower() == "none":
            raise ValueError("An API token must be signed: jwt_method 'none' is refused.")
        self._key, self._algorithm, self._prefix = key, algorithm, prefix

    def claims(self, header: str) -> Dict[str, Any]:
        """The token's claims; raises _Refused with the reason when it cannot be trusted."""
        prefix, _, token = header.partition(" ")
        if prefix != self._prefix or not token or " " in token:
            raise _Refused("malformed Authorization header")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                options={"require": ["exp"]},
                leeway=CLOCK_LEEWAY,
            )
        except jwt.InvalidTokenError as error:  # covers bad alg, signature, expiry, shape, claims
            raise _Refused(type(error).__name__) from error
        if not isinstance(claims.get("user", {}), dict):  # Rasa calls .get() on it: a 500 otherwise
            raise _Refused("the user claim is not an object")
        return claims


def install_api_auth_guard(app: Sanic) -> None:
    """Puts the strict token check in front of Rasa's API routes; call it once, before the server
    starts, on the app from `rasa.server.create_app` / `rasa.core.run.configure_app`. Does nothing
    when the app has no JWT secret (then Rasa never decodes a token)."""
    if not app.config.get("USE_JWT"):
        logger.info("Rasa's HTTP API has no JWT secret: no token check to harden.")
        return
    config = app.ctx.auth.config  # sanic-jwt's, as Rasa configured it
    verifier = TokenVerifier(config.secret(), config.algorithm(), config.authorization_header_prefix())
    header_name = config.authorization_header()
    checks_tokens = _ProtectedRoutes(app)

    async def check_api_token(request: Request) -> Optional[HTTPResponse]:
        header = request.headers.get(header_name)
        if header is None or request.route is None or not checks_tokens(request.route):
            return None
        try:
            verifier.claims(header)
        except _Refused as refusal:
            logger.warning("Refused an API token on %s: %s.", _route_name(request), refusal)
            return unauthorized()
        return None

    app.register_middleware(check_api_token, "request")
    app.exception(jwt.InvalidTokenError)(_invalid_token)


def unauthorized() -> HTTPResponse:
    """Rasa's own 401 body, so API clients see one format."""
    error = ErrorResponse(HTTPStatus.UNAUTHORIZED, "NotAuthenticated", "User is not authenticated.")
    return json(error.error_info, status=HTTPStatus.UNAUTHORIZED, headers=CHALLENGE)


def _invalid_token(request: Request, error: Exception) -> HTTPResponse:
    logger.warning("Refused an API token on %s: %s.", _route_name(request), type(error).__name__)
    return unauthorized()


def _route_name(request: Request) -> str:
    """The route's name, not its path: API paths carry conversation ids, which stay out of logs."""
    route = getattr(request, "route", None)
    return route.name if route is not None else "an unknown route"


class _ProtectedRoutes:
    """Whether a route checks API tokens: handlers wrapped by Rasa's `requires_auth`, and the views
    of sanic-jwt's /auth blueprint. Rasa's wrapper keeps the handler's name (functools.wraps), so it
    is recognised by its code object, which every wrapped handler shares. Answers are cached per
    route (the routes are fixed once the server runs)."""

    def __init__(self, app: Sanic) -> None:
        self._wrapper_code = _requires_auth_code(app)
        self._known: Dict[str, bool] = {}

    def __call__(self, route: Route) -> bool:
        if route.name not in self._known:
            self._known[route.name] = self._checks_tokens(route.handler)
        return self._known[route.name]

    def _checks_tokens(self, handler: Callable) -> bool:
        view_class = getattr(handler, "view_class", None)
        if view_class is not None and view_class.__module__.startswith("sanic_jwt."):
            return True
        while handler is not None:
            if getattr(handler, "__code__", None) is self._wrapper_code:
                return True
            handler = getattr(handler, "__wrapped__", None)
        return False


def _requires_auth_code(app: Sanic) -> CodeType:
    async def probe(request: Request) -> None:
        return None

    return rasa.server.requires_auth(app)(probe).__code__
