"""End to end booking over the REST channel: real servers, a real SMTP server and a real
webhook receiver on loopback, the request stored once in SQLite and visible in the staff export."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
from aiosmtpd.controller import Controller

from bot import PROJECT_ROOT
from bot.bookings.store import BookingStore
from bot.launcher import Servers, settings_with_ports
from tests.conftest import free_port
from tests.local_servers import RecordingSMTPHandler, WebhookReceiver
from tests.test_e2e import say

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Servers whose booking notifications go to a local SMTP server and webhook receiver."""
    tmp = tmp_path_factory.mktemp("booking")
    inbox, smtp_port = RecordingSMTPHandler(), free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    webhook = WebhookReceiver()
    env = {
        "DATABASE_URL": f"sqlite:///{tmp / 'bookings.db'}",
        "BOOKING_SMTP_HOST": "127.0.0.1",
        "BOOKING_SMTP_PORT": str(smtp_port),
        "BOOKING_EMAIL_TO": "desk@example.org",
        "BOOKING_WEBHOOK_URL": webhook.url,
    }
    smtp_holder = {"controller": smtp}  # replaced when a test restarts the SMTP server
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)  # the launcher passes its environment on to both servers
            with Servers(
                settings_with_ports(free_port(), free_port(), tmp / "tracker.db"), log_dir=tmp / "logs"
            ) as servers:
                yield {
                    "servers": servers,
                    "env": env,
                    "inbox": inbox,
                    "smtp": smtp_holder,
                    "smtp_port": smtp_port,
                    "webhook": webhook,
                }
    finally:
        smtp_holder["controller"].stop()
        webhook.stop()


def an_open_day() -> str:
    """A Monday-Thursday at least two days ahead, written the way a patient might."""
    day = date.today() + timedelta(days=2)
    while day.weekday() > 3:
        day += timedelta(days=1)
    return f"{day:%B} {day.day} at 10am"


def book(servers, sender: str) -> list:
    """Walks the whole form; returns the summary messages."""
    assert "full name" in say(servers, sender, "I'd like to book an appointment")[-1]["text"]
    assert "phone" in say(servers, sender, "Maria Lopez")[-1]["text"]
    assert "email" in say(servers, sender, "(305) 555-0123")[-1]["text"]
    assert "Which day" in say(servers, sender, "skip")[-1]["text"]
    messages = say(servers, sender, an_open_day())
    assert messages[0]["text"].startswith("Got it:") and "interested" in messages[-1]["text"]
    assert "contact you" in say(servers, sender, "RELIEF")[-1]["text"]
    return say(servers, sender, "/affirm")


def wait_for(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_a_full_booking_lands_once_and_staff_are_told(world):
    servers, inbox = world["servers"], world["inbox"]
    summary = book(servers, "e2e-booking")
    assert "Maria Lopez" in summary[0]["text"] and "+13055550123" in summary[0]["text"]
    confirmation = say(servers, "e2e-booking", "/affirm")[0]["text"]
    assert "not a confirmed appointment" in confirmation
    say(servers, "e2e-booking", "/affirm")  # a double click / replayed message
    store = BookingStore.from_url(world["env"]["DATABASE_URL"])
    [request] = store.list()
    assert request.reference in confirmation and request.phone == "+13055550123"
    calls = world["webhook"].calls
    assert wait_for(lambda: len(inbox.messages) == 1 and len(calls) == 1)
    assert request.reference in inbox.messages[0] and calls[0][1]["reference"] == request.reference
    export = subprocess.run(
        [sys.executable, "-m", "bot", "bookings", "export", "--format", "csv"],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert request.reference in export.stdout


def test_an_faq_mid_form_is_answered_and_the_form_goes_on(world):
    servers = world["servers"]
    say(servers, "e2e-faq-mid", "/book_appointment")
    messages = say(servers, "e2e-faq-mid", "how long does radiofrequency ablation last?")
    assert "six months to a year" in messages[0]["text"] and "full name" in messages[-1]["text"]


def test_an_emergency_mid_form_gets_911_first_and_ends_the_form(world):
    servers = world["servers"]
    say(servers, "e2e-emergency-mid", "/book_appointment")
    say(servers, "e2e-emergency-mid", "Maria Lopez")
    messages = say(servers, "e2e-emergency-mid", "I just lost control of my bladder and my legs are numb")
    assert len(messages) == 1 and messages[0]["text"].startswith("Please call 911")
    assert "full name" not in say(servers, "e2e-emergency-mid", "hello")[0]["text"]


def test_cancel_and_bad_answers(world):
    servers = world["servers"]
    say(servers, "e2e-cancel", "/book_appointment")
    assert "only have letters" in say(servers, "e2e-cancel", "<script>alert(1)</script>")[0]["text"]
    assert "nothing was sent" in say(servers, "e2e-cancel", "cancel")[0]["text"]


def test_a_notifier_that_is_down_delivers_later(world):
    servers, inbox, smtp = world["servers"], world["inbox"], world["smtp"]
    before = len(inbox.messages)
    store = BookingStore.from_url(world["env"]["DATABASE_URL"])
    stored_before = len(store.list())
    smtp["controller"].stop()
    try:
        book(servers, "e2e-smtp-down")
        assert "has been sent" in say(servers, "e2e-smtp-down", "/affirm")[0]["text"]
        assert wait_for(lambda: any(p.attempts >= 1 for p in store.pending_notifications()))
        assert len(store.list()) == stored_before + 1  # the request itself was kept
    finally:
        smtp["controller"] = Controller(inbox, hostname="127.0.0.1", port=world["smtp_port"])
        smtp["controller"].start()
    retry = subprocess.run(
        [sys.executable, "-m", "bot", "bookings", "retry"],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True,
    )  # fmt: skip
    assert retry.returncode == 0, retry.stdout + retry.stderr
    assert len(inbox.messages) == before + 1
    assert store.pending_notifications() == []


def test_one_answer_can_be_changed_from_the_summary(world):
    servers = world["servers"]
    book(servers, "e2e-change")
    choices = say(servers, "e2e-change", "/change_booking")[0]["buttons"]
    assert '/change_booking{"booking_field": "booking_phone"}' in [b["payload"] for b in choices]
    assert (
        "phone" in say(servers, "e2e-change", '/change_booking{"booking_field": "booking_phone"}')[-1]["text"]
    )
    summary = say(servers, "e2e-change", "305 555 0177")[-1]["text"]
    assert "+13055550177" in summary and "Maria Lopez" in summary  # only the phone changed
