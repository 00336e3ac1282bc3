"""The staff console's login through a real Sanic server: the session cookie as browsers and
http.cookiejar read it, logout, and the login throttle under 40 parallel requests.

The console is mounted as Rasa mounts channels (rasa.core.channels.channel.register); its
database is a real SQLite file. No model is needed.
"""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
from rasa.core.channels.channel import register
from sanic import Sanic

from bot.channels.staff_console import COOKIE, SESSION_ROUTES, StaffConsoleInput
from bot.staff.accounts import MAX_FAILURES, hash_password
from tests.sanic_server import serving

PASSWORD = "correct horse battery staple"
PARALLEL_LOGINS = 40


@pytest.fixture
def console_env(tmp_path, monkeypatch) -> None:
    # Sanic 21.12 can start a second app in one process only in test mode (its TouchUp rewrite).
    monkeypatch.setattr(Sanic, "test_mode", True)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'clinic.db'}")
    monkeypatch.setenv("TRACKER_DB", str(tmp_path / "no-tracker.db"))
    monkeypatch.setenv("STAFF_ACCOUNTS", f"dana={hash_password(PASSWORD)}")


@contextmanager
def serve_console(secure_cookie: bool) -> Iterator[str]:
    app = Sanic(f"staff_console_{uuid.uuid4().hex[:8]}")
    register([StaffConsoleInput(secure_cookie=secure_cookie)], app, route="/webhooks/")
    try:
        with serving(app) as base_url:
            yield base_url
    finally:
        Sanic._app_registry.pop(app.name, None)


@pytest.fixture
def console(console_env) -> Iterator[str]:
    with serve_console(secure_cookie=False) as base_url:
        yield base_url


@pytest.fixture
def https_console(console_env) -> Iterator[str]:
    with serve_console(secure_cookie=True) as base_url:
        yield base_url


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post(
    url: str, form: Dict[str, str], cookie: str = "", opener: Optional[urllib.request.OpenerDirector] = None
) -> Tuple[int, List[str], str]:
    """(status, raw Set-Cookie header values, body); redirects are not followed."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")
    if cookie:
        request.add_header("Cookie", cookie)
    opener = opener or urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as reply:
            return reply.status, reply.headers.get_all("Set-Cookie") or [], reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_all("Set-Cookie") or [], error.read().decode()


def get(url: str, opener: urllib.request.OpenerDirector) -> Tuple[int, str]:
    try:
        with opener.open(url, timeout=30) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def attributes(set_cookie: str) -> Tuple[str, Dict[str, Optional[str]]]:
    """The cookie's value and its attributes by lower-case name (None for a flag like HttpOnly)."""
    pair, *rest = [part.strip() for part in set_cookie.split(";")]
    name, _, value = pair.partition("=")
    assert name == COOKIE, set_cookie
    parsed: Dict[str, Optional[str]] = {}
    for part in rest:
        key, has_value, attribute_value = part.partition("=")
        parsed[key.lower()] = attribute_value if has_value else None
    return value, parsed


def log_in(base_url: str) -> str:
    status, cookies, _ = post(base_url + "/staff/login", {"username": "dana", "password": PASSWORD})
    assert status == 303 and len(cookies) == 1, (status, cookies)
    return cookies[0]


def csrf_token(base_url: str, opener: urllib.request.OpenerDirector) -> str:
    status, page = get(base_url + "/staff/topics/new", opener)
    assert status == 200, status
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def cookie_opener() -> Tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect), jar


# --- the session cookie -----------------------------------------------------------------------


def test_the_cookie_is_not_secure_unless_configured_so_login_works_over_http(console):
    value, cookie = attributes(log_in(console))
    assert len(value) > 20
    # Sanic rendered `secure: False` as "Secure=False", which every client reads as Secure.
    assert "secure" not in cookie, cookie
    assert cookie == {"path": "/staff", "httponly": None, "samesite": "Strict"}
    # A standard cookie jar over plain http: logged in, the console opens.
    opener, jar = cookie_opener()
    assert post(console + "/staff/login", {"username": "dana", "password": PASSWORD}, opener=opener)[0] == 303
    assert [c.name for c in jar] == [COOKIE] and not next(iter(jar)).secure
    assert get(console + "/staff/", opener)[0] == 200


def test_secure_cookie_true_marks_the_cookie_secure(https_console):
    _, cookie = attributes(log_in(https_console))
    assert cookie == {"path": "/staff", "httponly": None, "samesite": "Strict", "secure": None}


@pytest.mark.parametrize(
    "credentials, secure",
    [(None, False), ({"secure_cookie": False}, False), ({"secure_cookie": True}, True),
     ({"secure_cookie": "true"}, True), ({"secure_cookie": "no"}, False)],
)  # fmt: skip
def test_secure_cookie_comes_from_credentials_yml(credentials, secure):
    assert StaffConsoleInput.from_credentials(credentials).secure_cookie is secure


@pytest.mark.parametrize("secure_cookie", [False, True])
def test_logout_expires_the_cookie_on_the_path_and_attributes_it_was_set_with(console_env, secure_cookie):
    with serve_console(secure_cookie) as base_url:
        login_cookie = log_in(base_url)
        session = login_cookie.split(";")[0]
        opener = urllib.request.build_opener(NoRedirect)
        opener.addheaders = [("Cookie", session)]  # sent by hand: a jar keeps a Secure cookie off http
        status, cookies, _ = post(
            base_url + "/staff/logout", {"csrf_token": csrf_token(base_url, opener)}, session
        )
        assert status == 303 and len(cookies) == 1, (status, cookies)
        value, expired = attributes(cookies[0])
        assert value in ("", '""')  # Sanic quotes an empty value
        # The same Path, HttpOnly, SameSite and Secure as at login, expired.
        login_attributes = attributes(login_cookie)[1]
        assert expired == {**login_attributes, "max-age": "0", "expires": "Thu, 01-Jan-1970 00:00:00 GMT"}


def test_a_cookie_jar_forgets_the_session_at_logout(console):
    opener, jar = cookie_opener()
    assert post(console + "/staff/login", {"username": "dana", "password": PASSWORD}, opener=opener)[0] == 303
    assert [c.path for c in jar] == ["/staff"]
    assert (
        post(console + "/staff/logout", {"csrf_token": csrf_token(console, opener)}, opener=opener)[0] == 303
    )
    assert list(jar) == []  # an expiry on another path would have left the /staff cookie behind
    assert get(console + "/staff/", opener)[0] == 401


# --- the routes, as split into named handlers --------------------------------------------------


@pytest.mark.parametrize("path, method, handler, check_csrf", SESSION_ROUTES)
def test_every_session_route_needs_a_login_and_posts_need_the_csrf_token(
    console, path, method, handler, check_csrf
):
    url = console + "/staff" + path
    if method == "GET":
        assert get(url, urllib.request.build_opener(NoRedirect))[0] == 401
        return
    assert post(url, {})[0] == 401
    session = log_in(console).split(";")[0]
    assert post(url, {"csrf_token": "forged"}, session)[0] == 403


def test_the_login_page_and_assets_are_public(console):
    opener = urllib.request.build_opener(NoRedirect)
    for path in ("/staff/login", "/staff/console.js", "/staff/console.css"):
        assert get(console + path, opener)[0] == 200, path


# --- the login throttle -----------------------------------------------------------------------


def test_40_parallel_wrong_passwords_get_exactly_5_password_checks(console, verifications):
    start = threading.Barrier(PARALLEL_LOGINS)

    def wrong_password(attempt: int) -> int:
        start.wait()  # all 40 requests leave together
        return post(console + "/staff/login", {"username": "dana", "password": f"wrong-{attempt}"})[0]

    with ThreadPoolExecutor(PARALLEL_LOGINS) as pool:
        statuses = Counter(pool.map(wrong_password, range(PARALLEL_LOGINS)))
    assert len(verifications) == MAX_FAILURES
    # Refused without a check: 429. Checked: 401, except the one that used the last check.
    assert statuses == {429: PARALLEL_LOGINS - MAX_FAILURES + 1, 401: MAX_FAILURES - 1}, statuses
    status, _, body = post(console + "/staff/login", {"username": "dana", "password": PASSWORD})
    assert status == 429 and "Too many failed attempts" in body
    assert len(verifications) == MAX_FAILURES  # the right password was not even checked
