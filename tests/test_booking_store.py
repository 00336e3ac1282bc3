"""Booking storage on real databases (SQLite file and the local PostgreSQL), and notifications
through a real SMTP server and a real webhook receiver on loopback."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.exc import IntegrityError

from bot.bookings import cli
from bot.bookings.model import BookingRequest, NotificationStatus, new_reference
from bot.bookings.notify import EmailNotifier, WebhookNotifier, deliver_pending, notifiers_from_env
from bot.bookings.store import BookingStore
from tests.conftest import free_port
from tests.local_servers import RecordingSMTPHandler, WebhookReceiver


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'bookings.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request) -> BookingStore:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    store = BookingStore.from_url(url)
    yield store
    store._engine.dispose()


def booking(**changes) -> BookingRequest:
    values = dict(
        reference=new_reference(),
        name="Maria O'Brien-López",
        phone="+13055550123",
        email="maria@example.org",
        preferred_time="Tuesday, December 1, afternoon",
        interest="relief",
        consent=True,
    )
    values.update(changes)
    return BookingRequest(**values)


def test_a_request_is_stored_once(store):
    first, created = store.add(booking(), "conversation-1/form-1", ["email"])
    again, created_again = store.add(booking(), "conversation-1/form-1", ["email"])  # replayed submit
    assert created and not created_again
    assert again.reference == first.reference
    assert [r.reference for r in store.list()] == [first.reference]
    assert len(store.pending_notifications()) == 1


def test_different_requests_are_all_kept_newest_first(store):
    old = booking(created_at=datetime.now(timezone.utc) - timedelta(days=3))
    new = booking()
    store.add(old, "a", [])
    store.add(new, "b", [])
    assert [r.reference for r in store.list()] == [new.reference, old.reference]
    assert [r.reference for r in store.list(since=datetime.now(timezone.utc) - timedelta(days=1))] == [
        new.reference
    ]


def test_a_failed_write_leaves_nothing_behind(store):
    with pytest.raises(IntegrityError):
        store.add(booking(), "key", ["email", "email"])  # the second outbox row breaks a constraint
    assert store.list() == []
    assert store.pending_notifications() == []


def test_unicode_and_injection_strings_are_stored_verbatim(store):
    name = "Robert'); DROP TABLE booking_requests;-- 王伟 😀"
    stored, _ = store.add(booking(name=name), "k", [])
    assert store.list()[0].name == name == stored.name


@pytest.fixture
def smtp_server():
    handler = RecordingSMTPHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


def test_staff_are_notified_by_email_and_webhook(store, smtp_server, webhook):
    controller, handler = smtp_server
    notifiers = [
        EmailNotifier(
            host="127.0.0.1", port=controller.port, sender="bot@example.org", recipients=["desk@example.org"]
        ),
        WebhookNotifier(url=webhook.url, secret="s3cret"),
    ]
    request, _ = store.add(booking(), "k", [n.name for n in notifiers])
    assert deliver_pending(store, notifiers) == {"sent": 2, "failed": 0}
    assert len(handler.messages) == 1 and request.reference in handler.messages[0]
    headers, payload = webhook.calls[0]
    assert payload["reference"] == request.reference and payload["phone"] == "+13055550123"
    assert len(headers["X-Clinic-Signature"]) == 64
    assert store.pending_notifications() == []
    assert deliver_pending(store, notifiers) == {"sent": 0, "failed": 0}  # nothing is sent twice


def test_a_notifier_that_is_down_keeps_the_request_pending_until_it_is_back(store, smtp_server):
    controller, handler = smtp_server
    down = EmailNotifier(
        host="127.0.0.1", port=free_port(), sender="bot@example.org", recipients=["desk@example.org"]
    )
    request, _ = store.add(booking(), "k", ["email"])
    assert deliver_pending(store, [down]) == {"sent": 0, "failed": 1}
    [pending] = store.pending_notifications()
    assert pending.attempts == 1 and store.list()[0].notification_status == NotificationStatus.PENDING
    up = EmailNotifier(
        host="127.0.0.1", port=controller.port, sender="bot@example.org", recipients=["desk@example.org"]
    )
    assert deliver_pending(store, [up]) == {"sent": 1, "failed": 0}
    assert request.reference in handler.messages[0]
    assert store.list()[0].notification_status == NotificationStatus.SENT


def test_notifiers_come_from_the_environment():
    env = {
        "BOOKING_SMTP_HOST": "mail",
        "BOOKING_EMAIL_TO": "a@x.org, b@x.org",
        "BOOKING_WEBHOOK_URL": "http://h/x",
    }
    email, webhook = notifiers_from_env(env)
    assert email.recipients == ["a@x.org", "b@x.org"] and email.port == 25
    assert webhook.url == "http://h/x"
    assert notifiers_from_env({}) == []


def test_staff_export_csv_and_json(sqlite_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    store = BookingStore.from_url(sqlite_url)
    request, _ = store.add(booking(), "k", [])
    parser = cli_parser()
    out = io.StringIO()
    assert (
        cli.run(parser.parse_args(["bookings", "export", "--since", "2020-01-01", "--format", "csv"]), out)
        == 0
    )
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("reference,created_at,name,phone")
    assert request.reference in lines[1] and "+13055550123" in lines[1]
    out = io.StringIO()
    cli.run(parser.parse_args(["bookings", "export", "--format", "json"]), out)
    assert json.loads(out.getvalue())[0]["reference"] == request.reference
    out = io.StringIO()
    cli.run(parser.parse_args(["bookings", "list", "--since", "2999-01-01"]), out)
    assert out.getvalue().strip() == "No appointment requests."


def test_bad_since_date_is_refused():
    with pytest.raises(SystemExit):
        cli_parser().parse_args(["bookings", "list", "--since", "yesterday-ish"])


def cli_parser():
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command"))
    return parser
