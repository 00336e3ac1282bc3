"""No patient contact details in logs: a failed booking save on a really locked database logs none
of the name, phone or email (pytest's caplog and a real file handler), every engine hides SQL
parameters, and the redacting filter catches phone numbers, emails and SQL parameters anywhere in
a record, also for handlers added after it was installed."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import pytest
from sqlalchemy import create_engine, text

from actions import booking
from actions.booking import ActionSubmitBooking
from bot.database import create_database_engine
from bot.log_privacy import PiiRedactingFilter, error_summary, install_pii_log_filter, redact
from tests.test_booking_spool import confirmed

NAME, PHONE, EMAIL = "Maria Lopez", "+13055550123", "maria.lopez@example.org"
SECRETS = (NAME, PHONE, "5550123", EMAIL)


@pytest.fixture
def locked_clinic(tmp_path, monkeypatch):
    path = tmp_path / "clinic.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}?timeout=0.2")
    monkeypatch.setenv("BOOKING_SPOOL_DIR", str(tmp_path / "spool"))
    for name in ("BOOKING_SMTP_HOST", "BOOKING_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    booking.booking_store.cache_clear()
    booking.booking_spool.cache_clear()
    store = booking.booking_store()  # built before the lock: the INSERT is what fails
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    yield path
    lock.execute("ROLLBACK")
    lock.close()
    store._engine.dispose()
    booking.booking_store.cache_clear()
    booking.booking_spool.cache_clear()


@pytest.fixture
def file_handler(tmp_path):
    """A real handler on the root logger writing formatted records (tracebacks included) to a file."""
    path = tmp_path / "server.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield path
    root.removeHandler(handler)
    handler.close()


def assert_no_contact_details(log_text: str) -> None:
    for secret in SECRETS:
        assert secret not in log_text


def test_a_failed_save_on_a_locked_database_logs_no_contact_details(
    locked_clinic, file_handler, caplog, dispatcher, domain
):
    caplog.set_level(logging.DEBUG)
    tracker = confirmed(booking_name=NAME, booking_phone=PHONE, booking_email=EMAIL)
    asyncio.run(ActionSubmitBooking().run(dispatcher, tracker, domain))
    assert "Saving a booking request failed" in caplog.text  # the failure itself is logged...
    assert "locked" in caplog.text  # ...with its cause
    assert_no_contact_details(caplog.text)  # ...but not who it was about
    assert_no_contact_details(file_handler.read_text(encoding="utf-8"))


def test_every_engine_the_project_makes_hides_sql_parameters(tmp_path):
    engine = create_database_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert engine.hide_parameters
    finally:
        engine.dispose()


@pytest.fixture
def installed():
    uninstall = install_pii_log_filter()
    yield
    uninstall()


def test_sql_parameters_from_an_engine_that_shows_them_are_redacted(installed, tmp_path, file_handler):
    """Rasa's tracker store makes its own engine, without hide_parameters: the filter covers it."""
    path = tmp_path / "plain.db"
    engine = create_engine(f"sqlite:///{path}?timeout=0.1", future=True)  # parameters shown
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE people (name TEXT, phone TEXT, email TEXT)"))
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO people VALUES (:n, :p, :e)"), {"n": NAME, "p": PHONE, "e": EMAIL}
            )
    except Exception as error:
        assert NAME in str(error)  # the raw error does carry them
        logging.getLogger("rasa.core.tracker_store").exception("Saving failed: %s", error)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
        engine.dispose()
    written = file_handler.read_text(encoding="utf-8")
    assert "Saving failed" in written and "[parameters: redacted]" in written
    assert_no_contact_details(written)


def test_a_handler_added_after_install_gets_redacted_records_too(installed, tmp_path):
    path = tmp_path / "late.log"
    late = logging.FileHandler(path, encoding="utf-8")  # as Rasa and Sanic add theirs at start
    logger = logging.getLogger("sanic.error")
    logger.addHandler(late)
    try:
        logger.error("Request from %s <%s> failed", PHONE, EMAIL, stack_info=True)
        try:
            raise ValueError(f"bad phone {PHONE}")
        except ValueError:
            logger.exception("Handler crashed")
    finally:
        logger.removeHandler(late)
        late.close()
    written = path.read_text(encoding="utf-8")
    assert "Request from [phone] <[email]> failed" in written and "ValueError: bad phone [phone]" in written
    assert_no_contact_details(written)


def test_install_attaches_the_filter_to_existing_handlers_and_is_idempotent(tmp_path):
    handler = logging.FileHandler(tmp_path / "h.log")
    logging.getLogger().addHandler(handler)
    try:
        uninstall = install_pii_log_filter()
        again = install_pii_log_filter()
        assert sum(isinstance(f, PiiRedactingFilter) for f in handler.filters) == 1
        again()
        uninstall()
        assert not any(isinstance(f, PiiRedactingFilter) for f in handler.filters)
        assert not getattr(logging.getLogRecordFactory(), "redacts_pii", False)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def test_a_record_made_outside_the_factory_is_redacted_by_the_handler_filter(tmp_path):
    """e.g. records rebuilt by logging.makeLogRecord from a queue or socket."""
    record = logging.makeLogRecord({"msg": "call %s", "args": (PHONE,), "levelno": logging.INFO})
    assert PiiRedactingFilter().filter(record) is True
    assert record.getMessage() == "call [phone]"


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("phone +13055550123 ok", "phone [phone] ok"),
        (
            "(305) 555-0123 / 305-555-0123 / 305.555.0123 / 3055550123",
            "[phone] / [phone] / [phone] / [phone]",
        ),
        ("+1 (305) 555-0123", "[phone]"),
        ("mail ana.b+clinic@mail.example.org.", "mail [email]."),
        ("[SQL: INSERT INTO x VALUES (?)]\n[parameters: ('Maria', '+1305')]\n(Background", None),
        # Not contact details: left as they are.
        ("epoch 1700000000.5, port 5432, pid 12345, 2026-11-01 10:00, 127.0.0.1", "same"),
        ("booking FJ-7KQ2MX stored", "same"),
    ],
)
def test_redaction_patterns(raw, clean):
    if clean == "same":
        assert redact(raw) == raw
    elif clean is None:
        assert redact(raw) == "[SQL: INSERT INTO x VALUES (?)]\n[parameters: redacted]\n(Background"
    else:
        assert redact(raw) == clean


def test_an_error_summary_is_one_line_without_values():
    error = RuntimeError(f"duplicate key\nDETAIL: Key (name)=({NAME}) already exists")
    assert error_summary(error) == "RuntimeError: duplicate key"
