"""Staff logins for the console: password hashes from the environment, sessions and login
throttling in the clinic database (shared by every worker, and revocable).

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

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, func, select
from sqlalchemy.engine import Engine

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
login_failures = Table(
    "staff_login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client", String(100), nullable=False),  # the remote address
    Column("at", DateTime(timezone=True), nullable=False),
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
        since = _now() - FAILURE_WINDOW
        query = select(func.count()).where(login_failures.c.client == client, login_failures.c.at >= since)
        with self._engine.connect() as connection:
            return connection.execute(query).scalar() >= MAX_FAILURES

    def log_in(self, username: str, password: str, client: str) -> Optional[str]:
        """A new session token, or None (wrong name or password, or too many recent failures)."""
        if self.throttled(client):
            return None
        stored = self.accounts.get(username)
        # Verify against a dummy hash for unknown names too, so timing does not reveal who exists.
        valid = verify_password(password, stored or _DUMMY_HASH) and stored is not None
        with self._engine.begin() as connection:
            if not valid:
                connection.execute(login_failures.insert().values(client=client, at=_now()))
                return None
            token = secrets.token_urlsafe(32)
            connection.execute(
                sessions.insert().values(
                    token_hash=_token_hash(token),
                    username=username,
                    csrf_token=secrets.token_urlsafe(32),
                    expires_at=_now() + SESSION_LIFETIME,
                )
            )
            connection.execute(delete(sessions).where(sessions.c.expires_at < _now()))
        return token

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


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
