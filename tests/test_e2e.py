"""End to end: the real action server and Rasa server on free loopback ports, over HTTP."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import urllib.error
import urllib.request
from typing import Any, List, Tuple

import pytest

from bot.clinic import load_clinic_settings
from bot.launcher import Servers, settings_with_ports
from tests.conftest import MODEL_PATH, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tracker_db(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e") / "tracker.db"


@pytest.fixture(scope="module")
def servers(tracker_db, tmp_path_factory):
    settings = settings_with_ports(free_port(), free_port(), tracker_db)
    assert settings.model_path == MODEL_PATH
    servers = Servers(settings, log_dir=tmp_path_factory.mktemp("logs"))
    with servers:
        yield servers


def post(servers: Servers, payload: Any, raw: bytes | None = None) -> Tuple[int, Any]:
    data = raw if raw is not None else json.dumps(payload).encode()
    request = urllib.request.Request(
        servers.rest_url, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def say(servers: Servers, sender: str, text: str) -> List[dict]:
    status, messages = post(servers, {"sender": sender, "message": text})
    assert status == 200, messages
    return messages


def test_greeting_has_disclaimer_and_topic_buttons(servers):
    messages = say(servers, "e2e-greet", "hello")
    assert "not medical advice" in messages[0]["text"] or "can't give medical advice" in messages[0]["text"]
    assert "911" in messages[0]["text"]
    assert {"title": "Book a visit", "payload": "/book_appointment"} in messages[0]["buttons"]


def test_a_bare_follow_up_is_answered_for_the_treatment_under_discussion(servers):
    say(servers, "e2e-follow-up", "what is radiofrequency ablation?")
    assert "six months to a year" in say(servers, "e2e-follow-up", "how long does it last?")[0]["text"]
    say(servers, "e2e-follow-up-es", "¿Qué es el PRP?")
    assert "sangre" in say(servers, "e2e-follow-up-es", "¿cuántas sesiones?")[0]["text"]


def test_faq_is_answered_from_the_article(servers):
    messages = say(servers, "e2e-faq", "how long does relief from radiofrequency ablation last?")
    assert "six months to a year" in messages[0]["text"]


def test_emergency_gets_911_first_and_nothing_else(servers):
    say(servers, "e2e-emergency", "what is PRP?")
    messages = say(
        servers,
        "e2e-emergency",
        "I suddenly lost control of my bladder and my groin feels numb",
    )
    assert len(messages) == 1
    assert messages[0]["text"].startswith("Please call 911")


def test_out_of_scope_is_declined(servers):
    messages = say(servers, "e2e-oos", "can you refill my oxycodone prescription")
    assert "can only help with questions about facet joint pain" in messages[0]["text"]


def test_relief_answer_offers_booking(servers):
    messages = say(servers, "e2e-relief", "what is the RELIEF treatment")
    assert "hydrodissection" in messages[0]["text"]
    buttons = [button for message in messages for button in message.get("buttons", [])]
    assert {"title": "Yes, book a visit", "payload": "/book_appointment"} in buttons


def test_booking_request_starts_the_booking_form(servers):
    messages = say(servers, "e2e-book", "/book_appointment")
    assert "don't share medical details" in messages[0]["text"]
    assert messages[-1]["text"] == "What is your full name?"


@pytest.mark.parametrize(
    "text",
    [
        "😀😀😀",
        "你好，我背痛",
        "'; DROP TABLE events; --",
        "<script>alert(1)</script>",
        "a" * 1999,
        "\x00\x01 what is prp",
    ],
    ids=["emoji", "chinese", "sql", "html", "long", "control-chars"],
)
def test_odd_input_gets_an_answer(servers, text):
    messages = say(servers, "e2e-odd", text)
    assert messages and messages[0]["text"]


def test_empty_message_gets_a_prompt(servers):
    assert say(servers, "e2e-empty", "   ")[0]["text"].startswith("Please type your question")


def test_huge_message_asks_to_shorten(servers):
    assert "shorter message" in say(servers, "e2e-huge", "my back hurts " * 1000)[0]["text"]


def test_huge_message_with_an_emergency_still_gets_911(servers):
    text = "I fell off the roof and I can't feel my legs. " + "please help " * 400
    assert say(servers, "e2e-huge-emergency", text)[0]["text"].startswith("Please call 911")


@pytest.mark.parametrize(
    "payload, raw",
    [
        (None, b"{not json"),
        ({"message": "hi"}, None),
        ({"sender": "", "message": "hi"}, None),
        ({"sender": "x", "message": 5}, None),
        ([1, 2], None),
    ],
    ids=["bad-json", "no-sender", "empty-sender", "number-message", "list"],
)
def test_malformed_requests_get_400(servers, payload, raw):
    status, body = post(servers, payload, raw)
    assert status == 400 and "error" in body


def test_conversation_survives_a_restart(servers, tracker_db):
    messages = say(servers, "e2e-restart", "which treatment is right for me?")
    assert any(
        button.get("payload") == "/book_appointment" for m in messages for button in m.get("buttons", [])
    )
    servers.stop()
    servers.start()
    servers.wait_until_ready()
    # The pending booking offer was kept in SQLite: a plain "yes" still means "book it".
    messages = say(servers, "e2e-restart", "yes")
    assert messages[-1]["text"] == "What is your full name?"
    with sqlite3.connect(tracker_db) as db:
        (count,) = db.execute("select count(*) from events where sender_id = 'e2e-restart'").fetchone()
    assert count > 5


def test_tracker_store_down_still_answers(servers, tracker_db):
    """With the conversation store unusable, patients still get their answers.

    Rasa's fail-safe tracker store keeps the conversation in memory while SQLite is locked.
    """
    blocker = sqlite3.connect(tracker_db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # every other reader and writer now fails: "database is locked"
    try:
        assert say(servers, "e2e-db-down", "my legs are going numb and weak")[0]["text"].startswith(
            "Please call 911"
        )
        assert say(servers, "e2e-db-down", "what is PRP?")[0]["text"].startswith("Platelet-rich plasma")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert say(servers, "e2e-db-down", "what is PRP?")[0]["text"].startswith("Platelet-rich plasma")


def test_action_server_down_still_answers(servers):
    os.kill(servers.pid("actions"), signal.SIGTERM)
    # Rasa renders FAQ answers itself: they still arrive.
    assert "platelets" in say(servers, "e2e-down", "what is platelet rich plasma")[0]["text"].lower()
    # A reply that needs the action server turns into the clinic's phone number (503: the normal
    # path failed, but the body still carries the answer).
    status, messages = post(servers, {"sender": "e2e-down", "message": "I want to book an appointment"})
    assert status == 503 and load_clinic_settings().phone in messages[0]["text"]
    assert "911" in messages[0]["text"]
    # Emergencies never need the action server.
    assert say(servers, "e2e-down", "chest pain and I can't breathe")[0]["text"].startswith("Please call 911")


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_texting_channels_without_twilio_settings_answer_503(servers, channel):
    url = servers.rest_url.replace("/rest/", f"/{channel}/")
    request = urllib.request.Request(url, data=b"Body=hi&From=%2B13055550123&MessageSid=SM1")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 503
