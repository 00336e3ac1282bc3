"""The clinic's own database (appointment requests, texting state): SQLite under var/ by default,
PostgreSQL or another SQLAlchemy URL when DATABASE_URL is set. Conversations live apart, in Rasa's
tracker store (endpoints.yml).

Every engine is made with hide_parameters=True: SQLAlchemy otherwise puts the bound values of a
failed statement (a patient's name, phone, email) into the exception text, and so into logs.
A SQLite file is created owner-only (0600) before SQLAlchemy opens it.
A SQLite busy timeout can be given in the URL (`sqlite:///var/clinic.db?timeout=2`, seconds).
"""

from __future__ import annotations

import os
from typing import Optional, Union

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.url import URL

from bot import PROJECT_ROOT
from bot.privacy.files import ensure_private_file

DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'clinic.db'}"


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def create_database_engine(url: Optional[Union[str, URL]] = None) -> Engine:
    """The project's one way to make an engine (clinic database, and the tracker store for purges)."""
    parsed = make_url(url or database_url())
    sqlite_path = sqlite_file_path(parsed)
    if sqlite_path:
        ensure_private_file(sqlite_path)
    return create_engine(parsed, future=True, pool_pre_ping=True, hide_parameters=True)


def sqlite_file_path(url: URL) -> Optional[str]:
    """The file behind a SQLite URL; None for other databases, in-memory ones and URI filenames."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or str(url.query.get("uri", "")).lower() == "true":
        return None
    return os.path.abspath(database)
