"""Retention: removing what the assistant no longer needs to keep.

- Conversations in Rasa's SQL tracker store (table `events`) whose LAST event is older than the
  cutoff: all their events go, so a conversation still going on is never cut in half.
- Twilio message ids in `texting_handled_messages` older than the cutoff (they exist only to
  answer Twilio's retries, which come within minutes).
- Staff console sessions that have expired, and failed-login records (client addresses) older
  than the cutoff.

Kept on purpose: appointment requests (staff records, exported by staff), texting opt-outs (an
opt-out must hold until the patient texts START) and the staff audit log.

Works on SQLite and PostgreSQL: every function takes SQLAlchemy engines.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Dict, Optional, Sequence

from sqlalchemy import bindparam, delete, inspect, text
from sqlalchemy.engine import Engine

from bot.channels.texting_state import handled_messages
from bot.staff.accounts import login_failures
from bot.staff.accounts import sessions as staff_sessions

RETENTION_ENV = "RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
TRACKER_TABLE = "events"  # rasa/core/tracker_store.py SQLTrackerStore.SQLEvent
# Conversations deleted per statement: keeps each transaction (and PostgreSQL's lock) short.
BATCH = 500

_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}

_CANDIDATES = text(
    f"SELECT sender_id FROM {TRACKER_TABLE} GROUP BY sender_id HAVING MAX(timestamp) < :cutoff"
)
# The age test is repeated inside the DELETE so that a conversation that got a new event since
# the candidates were read is left whole.
_DELETE_IDLE = text(
    f"DELETE FROM {TRACKER_TABLE} WHERE sender_id IN ("
    f"SELECT sender_id FROM {TRACKER_TABLE} WHERE sender_id IN :senders "
    f"GROUP BY sender_id HAVING MAX(timestamp) < :cutoff) RETURNING sender_id"
).bindparams(bindparam("senders", expanding=True))


@dataclass(frozen=True)
class PurgeReport:
    conversations: int = 0
    conversation_events: int = 0
    texting_message_ids: int = 0
    expired_staff_sessions: int = 0
    staff_login_failures: int = 0

    def __add__(self, other: "PurgeReport") -> "PurgeReport":
        return PurgeReport(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def as_dict(self) -> Dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def summary(self) -> str:
        """Counts per kind, for the CLI and the logs (never an id)."""
        return (
            f"{self.conversations} conversation(s) ({self.conversation_events} events), "
            f"{self.texting_message_ids} texting message id(s), "
            f"{self.expired_staff_sessions} expired staff session(s), "
            f"{self.staff_login_failures} old failed staff login(s)"
        )


def parse_duration(value: str) -> timedelta:
    """'30d', '12h' or '90m'."""
    match = _DURATION.match(value or "")
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30d or 12h)")
    return timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})


def default_retention(environ: Optional[Dict[str, str]] = None) -> timedelta:
    env = os.environ if environ is None else environ
    value = env.get(RETENTION_ENV, "").strip()
    days = int(value) if value else DEFAULT_RETENTION_DAYS
    if days <= 0:
        raise ValueError(f"{RETENTION_ENV} must be a positive number of days, not {value!r}")
    return timedelta(days=days)


def purge_conversations(tracker: Engine, cutoff: datetime) -> PurgeReport:
    """Deletes every conversation whose last event is older than `cutoff`, all its events."""
    if not inspect(tracker).has_table(TRACKER_TABLE):
        return PurgeReport()
    epoch = cutoff.timestamp()
    with tracker.connect() as connection:
        candidates = list(connection.execute(_CANDIDATES, {"cutoff": epoch}).scalars())
    conversations = events = 0
    for start in range(0, len(candidates), BATCH):
        with tracker.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Rasa may be adding an event to one of these conversations right now. This
                # mode lets Rasa read, holds its writes for the moment of the DELETE, and
                # conflicts with itself (two purges never interleave).
                connection.execute(text(f"LOCK TABLE {TRACKER_TABLE} IN SHARE ROW EXCLUSIVE MODE"))
            deleted = connection.execute(
                _DELETE_IDLE, {"senders": candidates[start : start + BATCH], "cutoff": epoch}
            ).scalars()
            senders = list(deleted)
        conversations += len(set(senders))
        events += len(senders)
    return PurgeReport(conversations=conversations, conversation_events=events)


def purge_clinic_database(clinic: Engine, cutoff: datetime, now: Optional[datetime] = None) -> PurgeReport:
    """Old texting message ids, expired staff sessions and old failed logins (tables that do
    not exist yet are skipped: a deployment without texting or staff has none)."""
    now = now or datetime.now(timezone.utc)
    existing = set(inspect(clinic).get_table_names())
    jobs = [
        ("texting_message_ids", handled_messages, handled_messages.c.handled_at < cutoff),
        ("expired_staff_sessions", staff_sessions, staff_sessions.c.expires_at < now),
        ("staff_login_failures", login_failures, login_failures.c.at < cutoff),
    ]
    counts: Dict[str, int] = {}
    with clinic.begin() as connection:
        for kind, table, condition in jobs:
            if table.name in existing:
                counts[kind] = connection.execute(delete(table).where(condition)).rowcount
    return PurgeReport(**counts)


def purge(
    older_than: timedelta,
    tracker: Optional[Engine] = None,
    clinic: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> PurgeReport:
    """Everything older than `older_than` from the tracker store and the clinic database."""
    now = now or datetime.now(timezone.utc)
    cutoff = now - older_than
    report = PurgeReport()
    if tracker is not None:
        report += purge_conversations(tracker, cutoff)
    if clinic is not None:
        report += purge_clinic_database(clinic, cutoff, now)
    return report


def tracker_store_urls(environ: Optional[Dict[str, str]] = None) -> Sequence[str]:
    """Where conversations are: TRACKER_STORE_URL (an SQLAlchemy URL, e.g. for PostgreSQL), else
    the SQLite file TRACKER_DB (default var/tracker.db) if it exists."""
    from bot.settings import load_runtime_settings  # not at import: settings read secrets

    env = os.environ if environ is None else environ
    if env.get("TRACKER_STORE_URL"):
        return [env["TRACKER_STORE_URL"]]
    tracker_db = load_runtime_settings(dict(env)).tracker_db
    return [f"sqlite:///{tracker_db}"] if tracker_db.exists() else []


def purge_configured(older_than: Optional[timedelta] = None, now: Optional[datetime] = None) -> PurgeReport:
    """The purge for this deployment, from its environment (CLI and daily job)."""
    from bot.database import create_database_engine

    older_than = older_than or default_retention()
    engines = [create_database_engine(url) for url in tracker_store_urls()]
    clinic = create_database_engine()
    try:
        report = purge(older_than, clinic=clinic, now=now)
        for tracker in engines:
            report += purge(older_than, tracker=tracker, now=now)
        return report
    finally:
        for engine in [clinic, *engines]:
            engine.dispose()
