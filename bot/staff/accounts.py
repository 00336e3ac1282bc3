"""Staff logins for the console: password hashes from the environment, sessions and login
throttling in the clinic database (shared by every worker, and revocable).

Throttling allows at most MAX_FAILURES password checks per client address in any FAILURE_WINDOW,
even when many requests arrive at once from several workers or processes: a check needs a slot,
and a slot is taken in one transaction that first locks the client's row (see `_reserve_attempt`).

Hashes are scrypt (hashlib, in the standard library: memory-hard, no extra dependency), stored as
`scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`; make one with `python -m bot staff hash-password`.
STAFF_ACCOUNTS="dana=scrypt$...,luis=scrypt$..." lists who may log in.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Dict, Optional

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.database import create_database_engine

ACCOUNTS_ENV = "STAFF_ACCOUNTS"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_LIFETIME = timedelta(hours=8)
MAX_FAILURES, FAILURE_WINDOW = 5, timedelta(minutes=15)

metadata = MetaData()
sessions = Table(
    "staff_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # the cookie's hash: a leaked table opens nothing
    Column("username", String(100), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
# One row per password check that did not succeed (a check in progress holds one too).
login_failures = Table(
    "staff_login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client", String(100), nullable=False),  # the remote address
    Column("at", DateTime(timezone=True), nullable=False),
)
# One row per client address: the row every attempt from that client locks first.
login_clients = Table(
    "staff_login_clients",
    metadata,
    Column("client", String(100), primary_key=True),
    Column("last_attempt_at", DateTime(timezone=True), nullable=False),
)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


def accounts_from_env(value: Optional[str] = None) -> Dict[str, str]:
    value = os.environ.get(ACCOUNTS_ENV, "") if value is None else value
    accounts = {}
    for entry in value.split(","):
        name, _, stored = entry.strip().partition("=")
        if name and stored:
            accounts[name.strip()] = stored.strip()
    return accounts


@dataclass(frozen=True)
class Session:
    username: str
    csrf_token: str


@dataclass(frozen=True)
class LoginResult:
    token: Optional[str]  # a new session's token; None for a wrong name or password, or a refusal
    locked_out: bool  # the client may not try again for now (refused, or this was its last try)


@dataclass(frozen=True)
class _Attempt:
    row_id: int
    last_allowed: bool  # it took the client's last slot in the window


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffAuth:
    def __init__(self, engine: Engine, accounts: Dict[str, str]) -> None:
        self._engine = engine
        self.accounts = accounts
        metadata.create_all(engine)

    @classmethod
    def from_env(cls) -> "StaffAuth":
        return cls(create_database_engine(), accounts_from_env())

    def throttled(self, client: str) -> bool:
        """Whether the client has used up its password checks for now (a read, for display)."""
        since = _now() - FAILURE_WINDOW
        query = select(func.count()).where(login_failures.c.client == client, login_failures.c.at >= since)
        with self._engine.connect() as connection:
            return connection.execute(query).scalar() >= MAX_FAILURES

    def log_in(self, username: str, password: str, client: str) -> LoginResult:
        """A new session for the right name and password, unless the client is locked out."""
        attempt = self._reserve_attempt(client)
        if attempt is None:
            return LoginResult(None, locked_out=True)  # refused without checking the password
        stored = self.accounts.get(username)
        # Verify against a dummy hash for unknown names too, so timing does not reveal who exists.
        valid = verify_password(password, stored or _DUMMY_HASH) and stored is not None
        if not valid:
            return LoginResult(None, locked_out=attempt.last_allowed)  # the slot stays a failure
        token = secrets.token_urlsafe(32)
        now = _now()
        with self._engine.begin() as connection:
            # A success is not a failure: give the slot back.
            connection.execute(delete(login_failures).where(login_failures.c.id == attempt.row_id))
            connection.execute(
                sessions.insert().values(
                    token_hash=_token_hash(token),
                    username=username,
                    csrf_token=secrets.token_urlsafe(32),
                    expires_at=now + SESSION_LIFETIME,
                )
            )
            _forget_old_rows(connection, now)
        return LoginResult(token, locked_out=False)

    def _reserve_attempt(self, client: str) -> Optional[_Attempt]:
        """Takes one of the client's password checks for the window, or None if none is left.

        Reading the count and then inserting is a race (40 parallel requests got 9 checks). So the
        transaction starts by updating the client's row: PostgreSQL then holds that row's lock and
        SQLite its database write lock until commit, and the next attempt from the same client
        (any thread, worker or process) waits, then counts what this one inserted. Both are plain
        UPDATE/INSERT/SELECT, so one code path serves both databases; it relies on PostgreSQL's
        default READ COMMITTED isolation, where each statement sees rows committed before it began.
        """
        try:
            return self._reserve_attempt_once(client)
        except IntegrityError:
            # Another attempt created the client's row at the same moment; it exists now.
            return self._reserve_attempt_once(client)

    def _reserve_attempt_once(self, client: str) -> Optional[_Attempt]:
        now = _now()
        since = now - FAILURE_WINDOW
        with self._engine.begin() as connection:
            locked = connection.execute(
                update(login_clients).where(login_clients.c.client == client).values(last_attempt_at=now)
            ).rowcount
            if not locked:  # first attempt from this client: the new row is locked as well
                connection.execute(login_clients.insert().values(client=client, last_attempt_at=now))
            used = connection.execute(
                select(func.count()).where(login_failures.c.client == client, login_failures.c.at >= since)
            ).scalar()
            if used >= MAX_FAILURES:
                return None
            row_id = connection.execute(
                login_failures.insert().values(client=client, at=now)
            ).inserted_primary_key[0]
        return _Attempt(row_id, last_allowed=used + 1 >= MAX_FAILURES)

    def session(self, token: Optional[str]) -> Optional[Session]:
        if not token:
            return None
        query = select(sessions).where(sessions.c.token_hash == _token_hash(token))
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=timezone.utc)
        return Session(row.username, row.csrf_token) if expires > _now() else None

    def log_out(self, token: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))


def _forget_old_rows(connection: Connection, now: datetime) -> None:
    """Expired sessions, and failures and clients too old to count (their rows are not locked by
    anyone counting: only rows inside the window matter)."""
    since = now - FAILURE_WINDOW
    connection.execute(delete(sessions).where(sessions.c.expires_at < now))
    connection.execute(delete(login_failures).where(login_failures.c.at < since))
    connection.execute(delete(login_clients).where(login_clients.c.last_attempt_at < since))


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
