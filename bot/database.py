"""The clinic's own database (appointment requests, texting state): SQLite under var/ by default,
PostgreSQL or another SQLAlchemy URL when DATABASE_URL is set. Conversations live apart, in Rasa's
tracker store (endpoints.yml)."""

from __future__ import annotations

import os
from typing import Optional

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from bot import PROJECT_ROOT

DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'clinic.db'}"


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def create_database_engine(url: Optional[str] = None) -> Engine:
    engine = create_engine(url or database_url(), future=True, pool_pre_ping=True)
    if engine.url.get_backend_name() == "sqlite" and engine.url.database:
        os.makedirs(os.path.dirname(os.path.abspath(engine.url.database)), exist_ok=True)
    return engine
