"""Appointment requests in SQL (SQLAlchemy 1.4 Core), in the clinic database (bot/database.py).

- The schema is created and migrated by the app (`ensure_schema`), never by hand.
- Exactly once: each request carries an idempotency key (unique), so a retried submit, a double
  click or a replayed message finds the stored request instead of adding a second one.
- A request and its pending notifications (one row per notifier: an outbox) are written in one
  transaction: all or nothing.
- A notification is claimed (pending -> sending) before it is sent, so two deliverers running at
  once (a submit's background delivery and `bookings retry`) never both send it; a claim left by
  a deliverer that died mid-send goes stale and is taken over (STALE_CLAIM_AFTER).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Collection, Iterable, List, Optional, Tuple

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from bot.bookings.model import BookingRequest, NotificationStatus
from bot.database import create_database_engine

logger = logging.getLogger(__name__)

# v2: booking_notifications.claimed_at (claims before sending)
# v3: booking_requests.language (the patient's reply language; NULL in rows stored before: English)
SCHEMA_VERSION = 3

# Sending takes seconds (10 s timeout per SMTP/HTTP step); a claim this old belongs to a
# deliverer that died, and another may take it over. Too short would risk a double send.
STALE_CLAIM_AFTER = timedelta(minutes=5)
# SQLite has no row locks: a claimer that loses the race for one row tries the next of these.
SQLITE_CLAIM_CANDIDATES = 20

metadata = MetaData()

booking_requests = Table(
    "booking_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(16), nullable=False, unique=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("email", String(320)),
    Column("preferred_time", String(200), nullable=False),
    Column("interest", String(40)),
    Column("consent", Boolean, nullable=False),
    Column("channel", String(40), nullable=False),
    Column("language", String(8)),
)

booking_notifications = Table(
    "booking_notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(16), ForeignKey("booking_requests.reference"), nullable=False),
    Column("notifier", String(40), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
    Column("claimed_at", DateTime(timezone=True)),  # when status became 'sending'
    UniqueConstraint("reference", "notifier"),
)

schema_versions = Table("booking_schema_version", metadata, Column("version", Integer, nullable=False))


@dataclass(frozen=True)
class PendingNotification:
    id: int
    notifier: str
    attempts: int
    request: BookingRequest


def ensure_schema(engine: Engine) -> None:
    """Creates missing tables, migrates older schemas and records the schema version."""
    metadata.create_all(engine)
    with engine.begin() as connection:
        current = connection.execute(select(func.max(schema_versions.c.version))).scalar()
        if current is None:
            connection.execute(schema_versions.insert().values(version=SCHEMA_VERSION))
            return
    if current > SCHEMA_VERSION:
        raise RuntimeError(f"booking database schema v{current} is newer than this code (v{SCHEMA_VERSION})")
    if current < 2:
        _add_column(engine, booking_notifications.name, booking_notifications.c.claimed_at)
    if current < 3:
        _add_column(engine, booking_requests.name, booking_requests.c.language)
    if current < SCHEMA_VERSION:
        with engine.begin() as connection:
            connection.execute(schema_versions.insert().values(version=SCHEMA_VERSION))
        logger.info("Booking database migrated from schema v%s to v%s", current, SCHEMA_VERSION)


def _add_column(engine: Engine, table: str, column: Column) -> None:
    """ALTER TABLE ... ADD COLUMN, tolerating another process that added it at the same moment."""
    if column.name in _column_names(engine, table):
        return
    column_type = column.type.compile(dialect=engine.dialect)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column.name} {column_type}"))
    except (OperationalError, ProgrammingError):
        if column.name not in _column_names(engine, table):
            raise


def _column_names(engine: Engine, table: str) -> set:
    return {column["name"] for column in inspect(engine).get_columns(table)}


def _now() -> datetime:
    return datetime.now(timezone.utc)


class BookingStore:
    """Reads and writes appointment requests. Build with `BookingStore.from_url(...)`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def from_url(cls, url: Optional[str] = None) -> "BookingStore":
        engine = create_database_engine(url)
        ensure_schema(engine)
        return cls(engine)

    def add(
        self, request: BookingRequest, idempotency_key: str, notifiers: Iterable[str]
    ) -> Tuple[BookingRequest, bool]:
        """Stores the request with one pending notification per notifier.

        Returns (stored request, created). With a known idempotency key nothing is written and
        the request stored the first time is returned with created=False.
        """
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    booking_requests.insert().values(
                        reference=request.reference,
                        idempotency_key=idempotency_key,
                        created_at=request.created_at,
                        name=request.name,
                        phone=request.phone,
                        email=request.email,
                        preferred_time=request.preferred_time,
                        interest=request.interest,
                        consent=request.consent,
                        channel=request.channel,
                        language=request.language,
                    )
                )
                for notifier in notifiers:
                    connection.execute(
                        booking_notifications.insert().values(
                            reference=request.reference,
                            notifier=notifier,
                            status=NotificationStatus.PENDING,
                            attempts=0,
                        )
                    )
            logger.info("Stored booking request %s", request.reference)
            return request, True
        except IntegrityError:
            existing = self._by_idempotency_key(idempotency_key)
            if existing is None:
                raise  # a different constraint failed: not a replay
            logger.info("Booking request %s was already stored (replayed submit)", existing.reference)
            return existing, False

    def list(self, since: Optional[datetime] = None) -> List[BookingRequest]:
        """Requests newest first, optionally only those created at or after `since`."""
        query = select(booking_requests).order_by(booking_requests.c.created_at.desc())
        if since is not None:
            query = query.where(booking_requests.c.created_at >= since)
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
            pending = self._with_pending_notifications(connection, [row["reference"] for row in rows])
        return [_to_request(row, _status(row["reference"], pending)) for row in rows]

    def pending_notifications(self) -> List[PendingNotification]:
        """Every notification not delivered yet (waiting, or being sent right now)."""
        query = (
            _notification_query()
            .where(booking_notifications.c.status != NotificationStatus.SENT)
            .order_by(booking_notifications.c.id)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [_to_pending(row) for row in rows]

    def claim_next_notification(
        self, notifiers: Collection[str], after_id: int = 0, now: Optional[datetime] = None
    ) -> Optional[PendingNotification]:
        """Claims the next notification (id > after_id) for one of these notifiers, or None.

        Claimed means status 'sending': no other deliverer will take it unless the claim goes
        stale. PostgreSQL: the candidate row is locked with FOR UPDATE SKIP LOCKED, so concurrent
        claimers pass over it instead of waiting. SQLite (no row locks): the UPDATE is conditional
        on the row still being claimable, and a rowcount of 0 means another claimer won it.
        """
        if not notifiers:
            return None
        now = now or _now()
        columns = booking_notifications.c
        claimable = and_(
            columns.notifier.in_(list(notifiers)),
            or_(
                columns.status == NotificationStatus.PENDING,
                and_(
                    columns.status == NotificationStatus.SENDING, columns.claimed_at < now - STALE_CLAIM_AFTER
                ),
            ),
        )
        with self._engine.begin() as connection:
            row_locks = connection.dialect.name == "postgresql"
            candidates = (
                connection.execute(
                    select(columns.id)
                    .where(claimable, columns.id > after_id)
                    .order_by(columns.id)
                    .limit(1 if row_locks else SQLITE_CLAIM_CANDIDATES)
                    .with_for_update(skip_locked=True)  # rendered on PostgreSQL, ignored by SQLite
                )
                .scalars()
                .all()
            )
            for candidate in candidates:
                claimed = connection.execute(
                    booking_notifications.update()
                    .where(columns.id == candidate, claimable)
                    .values(status=NotificationStatus.SENDING, claimed_at=now)
                ).rowcount
                if claimed == 1:
                    row = connection.execute(_notification_query().where(columns.id == candidate))
                    return _to_pending(row.mappings().one())
        return None

    def mark_sent(self, notification_id: int) -> None:
        self._update_notification(
            notification_id,
            status=NotificationStatus.SENT,
            sent_at=_now(),
            claimed_at=None,
            last_error=None,
        )

    def mark_failed(self, notification_id: int, error: str) -> None:
        """Back to pending (a later run retries it), with one more attempt and the reason."""
        self._update_notification(
            notification_id,
            status=NotificationStatus.PENDING,
            claimed_at=None,
            attempts=booking_notifications.c.attempts + 1,
            last_error=error[:2000],
        )

    def _update_notification(self, notification_id: int, **values: object) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                booking_notifications.update()
                .where(booking_notifications.c.id == notification_id)
                .values(**values)
            )

    def _by_idempotency_key(self, key: str) -> Optional[BookingRequest]:
        query = select(booking_requests).where(booking_requests.c.idempotency_key == key)
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
            if row is None:
                return None
            pending = self._with_pending_notifications(connection, [row["reference"]])
        return _to_request(row, _status(row["reference"], pending))

    @staticmethod
    def _with_pending_notifications(connection, references: List[str]) -> set:
        """Which of these requests still have a notification waiting to be delivered."""
        if not references:
            return set()
        query = (
            select(booking_notifications.c.reference)
            .where(booking_notifications.c.status != NotificationStatus.SENT)
            .where(booking_notifications.c.reference.in_(references))
            .distinct()
        )
        return set(connection.execute(query).scalars())


def _status(reference: str, pending: set) -> str:
    """'pending' while any notification of the request is undelivered, else 'sent'."""
    return NotificationStatus.PENDING if reference in pending else NotificationStatus.SENT


def _notification_query():
    """A notification with its request (columns named apart: both tables have id and reference)."""
    return select(
        booking_notifications.c.id.label("notification_id"),
        booking_notifications.c.notifier,
        booking_notifications.c.attempts,
        *booking_requests.c,
    ).join(booking_requests, booking_requests.c.reference == booking_notifications.c.reference)


def _to_pending(row) -> PendingNotification:
    return PendingNotification(
        id=row["notification_id"],
        notifier=row["notifier"],
        attempts=row["attempts"],
        request=_to_request(row, NotificationStatus.PENDING),
    )


def _to_request(row, notification_status: str) -> BookingRequest:
    created_at = row["created_at"]
    if created_at.tzinfo is None:  # SQLite keeps no time zone; we always write UTC
        created_at = created_at.replace(tzinfo=timezone.utc)
    return BookingRequest(
        reference=row["reference"],
        name=row["name"],
        phone=row["phone"],
        email=row["email"],
        preferred_time=row["preferred_time"],
        interest=row["interest"],
        consent=row["consent"],
        channel=row["channel"],
        language=row["language"] or "en",  # NULL: stored before v3, when every patient wrote English
        created_at=created_at,
        notification_status=notification_status,
    )
