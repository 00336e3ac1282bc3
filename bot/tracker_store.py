"""Rasa's SQL tracker store, minus its way of failing: no bad input may stop the server.

Rasa 3.6's `SQLTrackerStore.session_scope` turns every ValueError raised while a session is open
into `print_error_and_exit` (it assumes a missing PostgreSQL schema). A UnicodeEncodeError from an
unencodable sender id or text is a ValueError too, so one crafted request used to stop the whole
server. Here such errors stay ordinary exceptions: the one request fails (and the channel answers
it with an apology), every other conversation goes on.

Also: an SQLite file is created readable by this user only (it holds health messages).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Generator

from rasa.core.tracker_store import SQLTrackerStore, ensure_schema_exists

from bot.privacy.files import ensure_private_file

logger = logging.getLogger(__name__)

# SQLite waits this long for a lock before failing (pysqlite's default is 5 s). A failed read or
# write falls back to Rasa's in-memory copy; two 5 s waits would overrun the channels' 10 s deadline.
SQLITE_BUSY_TIMEOUT_SECONDS = 2


class TrackerStoreFailure(RuntimeError):
    """A tracker store operation failed on bad data or a bad schema (was: an exit)."""


class SafeSQLTrackerStore(SQLTrackerStore):
    """endpoints.yml: `tracker_store: type: bot.tracker_store.SafeSQLTrackerStore` (same keys as SQL)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        dialect, db = kwargs.get("dialect", "sqlite"), kwargs.get("db")
        if dialect == "sqlite" and db:
            ensure_private_file(str(db))
            kwargs["query"] = {"timeout": str(SQLITE_BUSY_TIMEOUT_SECONDS), **(kwargs.get("query") or {})}
        super().__init__(*args, **kwargs)
        # SQLAlchemy otherwise puts the failed statement's parameters (message texts) in errors.
        self.engine.hide_parameters = True

    @contextlib.contextmanager
    def session_scope(self) -> Generator[Any, None, None]:
        session = self.sessionmaker()
        try:
            ensure_schema_exists(session)
            yield session
        except ValueError as error:
            raise TrackerStoreFailure(f"tracker store operation failed: {type(error).__name__}") from error
        finally:
            session.close()
