"""A booking confirmed while the clinic database is locked: kept in the spool, the patient told it
was received, and stored exactly once when the database is back (drained by the next submit, by
`bookings retry`, twice, or by several drainers at once). Real SQLite files, real locks."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import stat
import threading
import uuid
from types import SimpleNamespace

import pytest
from rasa_sdk.events import SlotSet
from sqlalchemy import func, select

from actions import booking
from actions.booking import ActionSubmitBooking
from bot.bookings import cli
from bot.bookings.model import BookingRequest, new_reference
from bot.bookings.spool import BookingSpool
from bot.bookings.store import BookingStore, booking_requests
from bot.clinic import load_clinic_settings
from tests.conftest import make_tracker
from tests.test_booking_actions import ANSWERS


class ExclusiveLock:
    """Another connection holding `BEGIN EXCLUSIVE` on the SQLite file: nobody else can read or
    write until it is released (what a long backup or a stuck writer does)."""

    def __init__(self, path) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._connection.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        if self._connection is not None:
            self._connection.execute("ROLLBACK")
            self._connection.close()
            self._connection = None


@pytest.fixture
def clinic(tmp_path, monkeypatch):
    """The clinic database (0.2 s busy timeout, so a lock fails fast) and the spool, as the
    action server sees them, with the store built before any lock (a running server)."""
    path = tmp_path / "clinic.db"
    url = f"sqlite:///{path}?timeout=0.2"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("BOOKING_SPOOL_DIR", str(tmp_path / "spool"))
    for name in ("BOOKING_SMTP_HOST", "BOOKING_WEBHOOK_URL", "BOOKING_EMAIL_TO"):
        monkeypatch.delenv(name, raising=False)
    booking.booking_store.cache_clear()
    booking.booking_spool.cache_clear()
    built = booking.booking_store()
    locks = []
    world = SimpleNamespace(
        path=path,
        url=url,
        patient_url=f"sqlite:///{path}",  # default 5 s busy timeout: waits for other drainers
        spool=BookingSpool(tmp_path / "spool"),
        lock=lambda: locks.append(ExclusiveLock(path)) or locks[-1],
    )
    yield world
    for lock in locks:
        lock.release()
    built._engine.dispose()
    booking.booking_store.cache_clear()
    booking.booking_spool.cache_clear()


def confirmed(n: int = 0, **slots):
    """The summary confirmed with 'yes'; n makes a different confirmation (idempotency key)."""
    events = [
        {"event": "slot", "name": "booking_stage", "value": "summary", "timestamp": 1700000000.5 + n},
        {"event": "user", "parse_data": {"intent": {"name": "affirm"}}, "input_channel": "rest"},
    ]
    return make_tracker(
        {"intent": {"name": "affirm", "confidence": 1.0}, "text": "yes"},
        events=events,
        slots={**ANSWERS, "booking_stage": "summary", **slots},
    )


def submit(tracker, dispatcher, domain):
    return asyncio.run(ActionSubmitBooking().run(dispatcher, tracker, domain))


def stored_count(url: str, key: str | None = None) -> int:
    store = BookingStore.from_url(url)
    query = select(func.count()).select_from(booking_requests)
    if key is not None:
        query = query.where(booking_requests.c.idempotency_key == key)
    try:
        with store._engine.connect() as connection:
            return connection.execute(query).scalar()
    finally:
        store._engine.dispose()


def retry_cli() -> tuple[int, str]:
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    return cli.run(parser.parse_args(["bookings", "retry"]), out), out.getvalue()


def last_ref(events) -> str:
    return next(e["value"] for e in events if e == SlotSet("last_booking_ref", e.get("value")))


def test_a_booking_confirmed_while_the_database_is_locked_is_kept_then_stored_exactly_once(
    clinic, dispatcher, domain
):
    lock = clinic.lock()
    tracker = confirmed()
    events = submit(tracker, dispatcher, domain)

    text = dispatcher.messages[-1]["text"]
    reference = last_ref(events)
    assert "received your request" in text and reference in text and "staff" in text
    assert "try again" not in text and "say 'yes'" not in text  # no loop
    assert SlotSet("booking_name", None) in events and SlotSet("booking_stage", None) in events
    [kept] = clinic.spool.pending()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(clinic.spool.directory.stat().st_mode) == 0o700
    assert json.loads(kept.read_text())["request"]["reference"] == reference

    # Still locked: retry keeps it, says so, and fails (exit 1) without a traceback.
    status, output = retry_cli()
    assert status == 1 and "1 request(s) stay kept" in output
    assert len(clinic.spool) == 1

    lock.release()
    status, output = retry_cli()
    assert status == 0 and "stored 1 kept request(s), 0 still kept" in output
    assert retry_cli()[0] == 0  # drained again: nothing more to do
    key = booking.idempotency_key(tracker)
    assert stored_count(clinic.url, key) == 1 and stored_count(clinic.url) == 1
    [stored] = BookingStore.from_url(clinic.url).list()
    assert stored.reference == reference and stored.name == ANSWERS["booking_name"]
    assert clinic.spool.pending() == []

    # The same confirmation replayed after the drain finds the stored request.
    dispatcher.messages.clear()
    again = submit(tracker, dispatcher, domain)
    assert last_ref(again) == reference and stored_count(clinic.url) == 1


def test_the_same_confirmation_twice_while_locked_is_kept_once_with_its_first_reference(
    clinic, dispatcher, domain
):
    clinic.lock()
    first = last_ref(submit(confirmed(), dispatcher, domain))
    second = last_ref(submit(confirmed(), dispatcher, domain))  # double click on "Send request"
    assert first == second and len(clinic.spool) == 1
    assert not list(clinic.spool.directory.glob(".*"))  # no temp file left behind


def test_kept_requests_drained_by_several_drainers_at_once_are_stored_once_each(clinic, dispatcher, domain):
    lock = clinic.lock()
    keys = []
    for n in range(6):
        tracker = confirmed(n)
        submit(tracker, dispatcher, domain)
        keys.append(booking.idempotency_key(tracker))
    assert len(clinic.spool) == 6
    lock.release()

    start = threading.Barrier(4)
    reports, errors = [], []

    def drain() -> None:
        store = BookingStore.from_url(clinic.patient_url)  # a separate engine, as another process
        try:
            start.wait()
            reports.append(clinic.spool.drain(store, []))
        except Exception as error:  # pragma: no cover - surfaced below
            errors.append(error)
        finally:
            store._engine.dispose()

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sum(r.stored for r in reports) == 6
    assert BookingSpool(clinic.spool.directory).drain(BookingStore.from_url(clinic.url), []).stored == 0
    assert [stored_count(clinic.url, key) for key in keys] == [1] * 6
    assert clinic.spool.pending() == []


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_spool_drained_twice_stores_once(database, tmp_path, request):
    url = (
        f"sqlite:///{tmp_path / 'b.db'}" if database == "sqlite" else request.getfixturevalue("postgres_url")
    )
    spool = BookingSpool(tmp_path / "spool")
    request_ = BookingRequest(
        reference=new_reference(),
        name="Ana Ruiz",
        phone="+13055550188",
        preferred_time="Monday",
        consent=True,
    )
    spool.keep(request_, "conversation-9/1700000000.5", ["email"])
    store = BookingStore.from_url(url)
    try:
        # A drainer that stored the request but died before removing the file: the file stays.
        store.add(request_, "conversation-9/1700000000.5", ["email"])
        report = spool.drain(store, ["email"])
        assert (report.stored, report.already_stored, report.waiting) == (0, 1, 0)
        assert [r.reference for r in store.list()] == [request_.reference]
        assert len(store.pending_notifications()) == 1
    finally:
        store._engine.dispose()


def test_the_next_submit_drains_the_spool(clinic, dispatcher, domain):
    lock = clinic.lock()
    kept = last_ref(submit(confirmed(1), dispatcher, domain))
    lock.release()
    fresh = last_ref(submit(confirmed(2), dispatcher, domain))  # the database is back
    # asyncio.run waited for the background catch-up (default executor) before returning.
    assert {r.reference for r in BookingStore.from_url(clinic.url).list()} == {kept, fresh}
    assert clinic.spool.pending() == []


def test_when_even_the_spool_cannot_be_written_the_patient_is_told_to_call(
    clinic, dispatcher, domain, monkeypatch, tmp_path
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("BOOKING_SPOOL_DIR", str(blocker / "spool"))
    booking.booking_spool.cache_clear()
    clinic.lock()
    events = submit(confirmed(), dispatcher, domain)
    text = dispatcher.messages[-1]["text"]
    assert "not sent" in text and load_clinic_settings().phone in text and "try again" not in text
    assert SlotSet("booking_name", None) in events  # no half-finished booking to loop on


def test_the_submit_action_never_raises(clinic, dispatcher, domain, monkeypatch):
    # A broken setting (not a port number) used to raise out of the action: "technical trouble".
    monkeypatch.setenv("BOOKING_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("BOOKING_EMAIL_TO", "desk@example.org")
    monkeypatch.setenv("BOOKING_SMTP_PORT", "twenty-five")
    events = submit(confirmed(), dispatcher, domain)
    assert load_clinic_settings().phone in dispatcher.messages[-1]["text"]
    assert SlotSet("booking_stage", None) in events


def test_the_action_servers_periodic_retry_drains_the_spool(clinic, dispatcher, domain):
    from bot.bookings.retry import start_booking_retry

    lock = clinic.lock()
    reference = last_ref(submit(confirmed(), dispatcher, domain))
    lock.release()

    async def run_once_in_the_background() -> None:
        task = start_booking_retry(
            asyncio.get_running_loop(),
            store_factory=lambda: BookingStore.from_url(clinic.url),
            spool_factory=lambda: clinic.spool,
            first_delay_seconds=0,
        )
        for _ in range(500):  # up to 5 s
            if not clinic.spool.pending():
                break
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(run_once_in_the_background())
    assert [r.reference for r in BookingStore.from_url(clinic.url).list()] == [reference]


def test_a_drain_without_notifier_settings_keeps_the_staff_email_owed(tmp_path):
    """`bookings retry` from a shell without BOOKING_SMTP_* must not drop the email the action
    server (which has them) would have sent: the outbox row is written, pending."""
    spool = BookingSpool(tmp_path / "spool")
    kept = BookingRequest(
        reference=new_reference(),
        name="Ana Ruiz",
        phone="+13055550188",
        preferred_time="Monday",
        consent=True,
    )
    spool.keep(kept, "conversation-3/1700000000.5", ["email"])
    store = BookingStore.from_url(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        assert spool.drain(store, []).stored == 1
        [pending] = store.pending_notifications()
        assert (pending.notifier, pending.request.reference) == ("email", kept.reference)
    finally:
        store._engine.dispose()


def test_the_retry_is_wired_into_a_real_sanic_server(clinic, dispatcher, domain, monkeypatch):
    from sanic import Sanic, response

    from bot.bookings.retry import register_booking_retry
    from tests.sanic_server import serving

    lock = clinic.lock()
    reference = last_ref(submit(confirmed(), dispatcher, domain))
    lock.release()
    monkeypatch.setattr(Sanic, "test_mode", True)  # several Sanic apps in one test process
    app = Sanic(f"booking_retry_wiring_{uuid.uuid4().hex[:8]}")
    app.add_route(lambda request: response.text("ok"), "/ping")
    register_booking_retry(
        app, store_factory=lambda: BookingStore.from_url(clinic.url), first_delay_seconds=0
    )
    with serving(app):
        for _ in range(500):
            if not clinic.spool.pending():
                break
            threading.Event().wait(0.01)
        task = app.ctx.booking_retry_task
    assert [r.reference for r in BookingStore.from_url(clinic.url).list()] == [reference]
    assert task.cancelled() or task.done()
