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


# --- v3: the patient's language, migrated into existing databases and told to staff -----------

V2_TIMESTAMP = {"sqlite": "DATETIME", "postgresql": "TIMESTAMP WITH TIME ZONE"}
V2_ID = {"sqlite": "INTEGER PRIMARY KEY", "postgresql": "SERIAL PRIMARY KEY"}


def create_version_2_schema(engine) -> None:
    """The schema (v2) and one pending request as the release before Spanish left them."""
    dialect = engine.dialect.name
    stamp, key = V2_TIMESTAMP[dialect], V2_ID[dialect]
    with engine.begin() as connection:
        connection.execute(
            text(
                f"CREATE TABLE booking_requests (id {key}, reference VARCHAR(16) NOT NULL UNIQUE,"
                f" idempotency_key VARCHAR(200) NOT NULL UNIQUE, created_at {stamp} NOT NULL,"
                " name VARCHAR(200) NOT NULL, phone VARCHAR(32) NOT NULL, email VARCHAR(320),"
                " preferred_time VARCHAR(200) NOT NULL, interest VARCHAR(40), consent BOOLEAN NOT NULL,"
                " channel VARCHAR(40) NOT NULL)"
            )
        )
        connection.execute(
            text(
                f"CREATE TABLE booking_notifications (id {key}, reference VARCHAR(16) NOT NULL"
                " REFERENCES booking_requests (reference), notifier VARCHAR(40) NOT NULL,"
                " status VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL, last_error TEXT,"
                f" sent_at {stamp}, claimed_at {stamp}, UNIQUE (reference, notifier))"
            )
        )
        connection.execute(text("CREATE TABLE booking_schema_version (version INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO booking_schema_version VALUES (1)"))
        connection.execute(text("INSERT INTO booking_schema_version VALUES (2)"))
        connection.execute(
            text(
                "INSERT INTO booking_requests (reference, idempotency_key, created_at, name, phone,"
                " preferred_time, consent, channel) VALUES ('FJ-BBBBBB', 'old-key', :created, 'Ana',"
                " '+13055550188', 'Monday, December 7, morning', :consent, 'sms')"
            ),
            {"created": datetime(2026, 1, 1, 10, tzinfo=timezone.utc), "consent": True},
        )
        connection.execute(
            text(
                "INSERT INTO booking_notifications (reference, notifier, status, attempts)"
                " VALUES ('FJ-BBBBBB', 'email', 'pending', 0)"
            )
        )


def test_a_version_2_database_gets_the_language_column_and_keeps_its_requests(database_url, smtp):
    controller, handler = smtp
    engine = create_engine(database_url, future=True)
    create_version_2_schema(engine)
    engine.dispose()
    store = BookingStore.from_url(database_url)
    BookingStore.from_url(database_url)._engine.dispose()  # a second start finds it migrated
    try:
        with store._engine.connect() as connection:
            versions = connection.execute(select(schema_versions.c.version)).scalars().all()
        assert SCHEMA_VERSION == 3 and max(versions) == 3
        [old] = store.list()
        assert old.reference == "FJ-BBBBBB" and old.language == "en"  # stored before Spanish: English
        spanish = request_for(2)
        spanish.language = "es"
        store.add(spanish, "new-key", ["email"])
        assert {r.reference: r.language for r in store.list()} == {"FJ-BBBBBB": "en", spanish.reference: "es"}
        email = EmailNotifier(
            host="127.0.0.1", port=controller.port, sender="bot@example.org", recipients=["desk@example.org"]
        )
        assert deliver_pending(store, [email]) == {"sent": 2, "failed": 0}
        [to_old] = [m for m in handler.messages if "FJ-BBBBBB" in m]
        [to_new] = [m for m in handler.messages if spanish.reference in m]
        assert "Language: English" in to_old and "Language: Spanish" not in to_old
        assert "Language: Spanish" in to_new
        assert f"Subject: New appointment request {spanish.reference} (Spanish)" in to_new
    finally:
        store._engine.dispose()


def test_the_webhook_and_the_export_carry_the_language():
    from bot.bookings.notify import webhook_payload

    request = request_for(1)
    assert webhook_payload(request)["language"] == "en"
    request.language = "es"
    assert webhook_payload(request)["language"] == "es"
    assert cli.export_row(request)["language"] == "es"
    assert "Language: Spanish" in request.staff_summary()


def test_a_request_kept_in_the_spool_before_languages_reads_as_english(tmp_path):
    import json

    from bot.bookings.spool import BookingSpool

    spool = BookingSpool(tmp_path / "spool")
    spanish = request_for(1)
    spanish.language = "es"
    spool.keep(spanish, "k-es")
    spool.keep(request_for(2), "k-old")
    for file in spool.pending():  # drop the field from one file, as the release before wrote it
        record = json.loads(file.read_text(encoding="utf-8"))
        if record["idempotency_key"] == "k-old":
            del record["request"]["language"]
            file.write_text(json.dumps(record), encoding="utf-8")
    languages = {spool._read(file)[0]: spool._read(file)[1].language for file in spool.pending()}
    assert languages == {"k-es": "es", "k-old": "en"}
