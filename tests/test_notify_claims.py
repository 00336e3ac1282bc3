"""Staff notifications are claimed before they are sent: a submit's background delivery, `bookings
retry` and more deliverers running at the same moment send each email exactly once. Real SMTP
server on loopback, real SQLite file and real PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import io
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select, text

from actions import booking
from bot.bookings import cli
from bot.bookings.model import BookingRequest, NotificationStatus, new_reference
from bot.bookings.notify import EmailNotifier, deliver_pending
from bot.bookings.store import (
    SCHEMA_VERSION,
    STALE_CLAIM_AFTER,
    BookingStore,
    booking_notifications,
    schema_versions,
)
from tests.conftest import free_port
from tests.local_servers import RecordingSMTPHandler

BOOKINGS = 5


class SlowSMTPHandler(RecordingSMTPHandler):
    """A mail server that takes a moment per message, like a real one: deliverers overlap."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp():
    handler = SlowSMTPHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'clinic.db'}"
    return request.getfixturevalue("postgres_url")  # a throw-away database, or a skip with the reason


def request_for(n: int) -> BookingRequest:
    return BookingRequest(
        reference=new_reference(),
        name=f"Patient {n}",
        phone="+13055550123",
        preferred_time="Monday",
        consent=True,
    )


def sent_references(handler, references) -> Counter:
    return Counter(ref for message in handler.messages for ref in references if ref in message)


def test_concurrent_submit_delivery_and_retry_email_staff_once(database_url, smtp, monkeypatch, tmp_path):
    controller, handler = smtp
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BOOKING_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("BOOKING_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("BOOKING_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("BOOKING_EMAIL_TO", "desk@example.org")
    monkeypatch.delenv("BOOKING_WEBHOOK_URL", raising=False)
    email = EmailNotifier(
        host="127.0.0.1", port=controller.port, sender="bot@example.org", recipients=["desk@example.org"]
    )
    setup = BookingStore.from_url(database_url)
    references = [setup.add(request_for(n), f"k{n}", ["email"])[0].reference for n in range(BOOKINGS)]
    booking.booking_store.cache_clear()
    booking.booking_spool.cache_clear()

    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command"))
    start = threading.Barrier(4)
    errors = []

    def run(job) -> None:
        try:
            start.wait()
            job()
        except Exception as error:  # pragma: no cover - surfaced below
            errors.append(error)

    def own_store_delivery() -> None:  # a second action-server worker, its own engine
        store = BookingStore.from_url(database_url)
        try:
            deliver_pending(store, [email])
        finally:
            store._engine.dispose()

    jobs = [
        lambda: booking._catch_up_quietly([email]),  # what a submit runs in the background
        lambda: cli.run(parser.parse_args(["bookings", "retry"]), io.StringIO()),  # staff's retry
        own_store_delivery,
        own_store_delivery,
    ]
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert sent_references(handler, references) == Counter({ref: 1 for ref in references})
        assert len(handler.messages) == BOOKINGS
        assert setup.pending_notifications() == []
        assert {r.notification_status for r in setup.list()} == {NotificationStatus.SENT}
    finally:
        booking.booking_store.cache_clear()
        setup._engine.dispose()


def test_a_claim_is_not_taken_twice_but_a_stale_one_is_taken_over(database_url):
    store = BookingStore.from_url(database_url)
    try:
        store.add(request_for(1), "k1", ["email"])
        now = datetime.now(timezone.utc)
        first = store.claim_next_notification(["email"], now=now)
        assert first is not None and first.request.name == "Patient 1"
        assert store.claim_next_notification(["email"], now=now + timedelta(seconds=30)) is None
        assert store.claim_next_notification(["webhook"]) is None  # only configured notifiers
        # Being sent is not delivered yet: staff still see it as pending.
        assert store.list()[0].notification_status == NotificationStatus.PENDING
        assert [p.id for p in store.pending_notifications()] == [first.id]
        # The first deliverer died mid-send: after STALE_CLAIM_AFTER another may take it over.
        later = now + STALE_CLAIM_AFTER + timedelta(seconds=1)
        again = store.claim_next_notification(["email"], now=later)
        assert again is not None and again.id == first.id
        store.mark_sent(again.id)
        assert store.claim_next_notification(["email"], now=later + STALE_CLAIM_AFTER * 2) is None
    finally:
        store._engine.dispose()


def test_a_failed_send_goes_back_to_pending_and_is_not_retried_in_the_same_run(database_url):
    store = BookingStore.from_url(database_url)
    try:
        store.add(request_for(1), "k1", ["email"])
        down = EmailNotifier(
            host="127.0.0.1", port=free_port(), sender="bot@example.org", recipients=["desk@example.org"]
        )
        assert deliver_pending(store, [down]) == {"sent": 0, "failed": 1}
        [pending] = store.pending_notifications()
        assert pending.attempts == 1
        with store._engine.connect() as connection:
            status = connection.execute(select(booking_notifications.c.status)).scalar()
        assert status == NotificationStatus.PENDING
    finally:
        store._engine.dispose()


def test_a_version_1_database_is_migrated_and_keeps_its_pending_notifications(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url, future=True)
    with engine.begin() as connection:  # the v1 schema as the previous release created it
        connection.execute(
            text(
                "CREATE TABLE booking_requests (id INTEGER PRIMARY KEY, reference VARCHAR(16) NOT NULL UNIQUE,"
                " idempotency_key VARCHAR(200) NOT NULL UNIQUE, created_at DATETIME NOT NULL,"
                " name VARCHAR(200) NOT NULL, phone VARCHAR(32) NOT NULL, email VARCHAR(320),"
                " preferred_time VARCHAR(200) NOT NULL, interest VARCHAR(40), consent BOOLEAN NOT NULL,"
                " channel VARCHAR(40) NOT NULL)"
            )
        )
        connection.execute(
            text(
                "CREATE TABLE booking_notifications (id INTEGER PRIMARY KEY, reference VARCHAR(16) NOT NULL"
                " REFERENCES booking_requests (reference), notifier VARCHAR(40) NOT NULL,"
                " status VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL, last_error TEXT,"
                " sent_at DATETIME, UNIQUE (reference, notifier))"
            )
        )
        connection.execute(text("CREATE TABLE booking_schema_version (version INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO booking_schema_version VALUES (1)"))
        connection.execute(
            text(
                "INSERT INTO booking_requests VALUES (1, 'FJ-AAAAAA', 'k', '2026-01-01 10:00:00.000000',"
                " 'Ana', '+13055550188', NULL, 'Monday', NULL, 1, 'rest')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO booking_notifications VALUES (1, 'FJ-AAAAAA', 'email', 'pending', 0, NULL, NULL)"
            )
        )
    engine.dispose()
    store = BookingStore.from_url(url)
    BookingStore.from_url(url)._engine.dispose()  # a second start finds it migrated
    try:
        claimed = store.claim_next_notification(["email"])
        assert claimed is not None and claimed.request.reference == "FJ-AAAAAA"
        with store._engine.connect() as connection:
            versions = connection.execute(select(schema_versions.c.version)).scalars().all()
        assert max(versions) == SCHEMA_VERSION
    finally:
        store._engine.dispose()
