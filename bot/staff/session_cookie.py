"""The staff console's session cookie, set at login and expired at logout with the same attributes.

A browser removes a cookie only when the expiring Set-Cookie names the same path (and domain) as the
one that set it, so both come from this one place. Attributes are set one by one: Sanic 21.12's
`Cookie` is a dict whose `update()` skips its checks, and it renders a False flag as `Secure=False`,
which browsers and http.cookiejar read as Secure (the cookie then never travels over plain http).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sanic.cookies import Cookie
from sanic.response import HTTPResponse

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class SessionCookie:
    name: str
    path: str
    secure: bool  # only once the console is served over https (credentials.yml: secure_cookie)

    def set(self, reply: HTTPResponse, token: str) -> None:
        self._attach(reply, token)

    def expire(self, reply: HTTPResponse) -> None:
        cookie = self._attach(reply, "")
        cookie["max-age"] = 0
        cookie["expires"] = EPOCH  # for clients that ignore Max-Age

    def _attach(self, reply: HTTPResponse, value: str) -> Cookie:
        reply.cookies[self.name] = value
        cookie = reply.cookies[self.name]
        cookie["path"] = self.path
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        if self.secure:  # absent, not False: any Secure attribute makes the cookie https-only
            cookie["secure"] = True
        return cookie
