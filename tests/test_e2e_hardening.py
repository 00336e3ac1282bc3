"""Hostile input and failures against the real servers on loopback (docs/security.md).

One pair of servers for the module, supervised the way `make run` supervises them, with the SMS and
WhatsApp channels on. Each test names the attack or fault it replays; the property-based fuzzing
(hypothesis) sends random JSON of any shape, unicode of every category (lone surrogates and
controls included), deep nesting, huge strings and raw bytes to REST, and correctly signed Twilio
forms with random fields to SMS and WhatsApp: every request gets an answer under 500, and the Rasa
server is the same process at the end.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from bot import PROJECT_ROOT
from bot.clinic import load_clinic_settings
from bot.launcher import Servers, settings_with_ports
from bot.staff.accounts import hash_password
from tests.conftest import free_port
from tests.test_e2e_booking import an_open_day

pytestmark = pytest.mark.e2e

STAFF_PASSWORD = "a long staff passphrase 42"
TWILIO_ENV = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "test-auth-token-0123456789abcdef",
    "TWILIO_SMS_NUMBER": "+13055550100",
    "TWILIO_WHATSAPP_NUMBER": "whatsapp:+13055550101",
    "PUBLIC_BASE_URL": "https://bot.example.org",
    "SENDER_ID_SECRET": "test-sender-id-secret-0123456789",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hardening")
    with pytest.MonkeyPatch.context() as patch:
        env = {
            **TWILIO_ENV,
            "DATABASE_URL": f"sqlite:///{tmp / 'clinic.db'}",
            "BOOKING_SPOOL_DIR": str(tmp / "spool"),
            "STAFF_ACCOUNTS": f"dana={hash_password(STAFF_PASSWORD)}",
        }
        for key, value in env.items():
            patch.setenv(key, value)
        settings = settings_with_ports(free_port(), free_port(), tmp / "tracker.db")
        with Servers(settings, log_dir=tmp / "logs") as servers:
            servers.supervise_in_background(interval=0.2)
            yield {"servers": servers, "tmp": tmp}


def post_raw(servers: Servers, body: bytes, timeout: float = 60) -> Tuple[int, Any]:
    request = urllib.request.Request(
        servers.rest_url, data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"null")
        except ValueError:
            return error.code, raw.decode("utf-8", "replace")


def say(servers: Servers, sender: str, text: str, **extra: Any) -> Tuple[int, List[dict]]:
    return post_raw(servers, json.dumps({"sender": sender, "message": text, **extra}).encode())


def texts(messages: List[dict]) -> str:
    return " | ".join(message.get("text", "") for message in messages)


def is_911(messages: List[dict]) -> bool:
    return "911" in messages[0].get("text", "")


def get(servers: Servers, path: str) -> Tuple[int, Any]:
    url = servers.demo_url.rstrip("/") + path
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def rasa_is_running(servers: Servers) -> bool:
    return servers._processes["rasa"].poll() is None and servers.restarts.get("rasa", 0) == 0


def wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


# --- row 1 and 2: lone surrogates -------------------------------------------------------------


def test_lone_surrogate_in_sender_neither_stops_the_server_nor_loses_the_answer(world):
    servers = world["servers"]
    status, messages = post_raw(servers, b'{"sender": "x\\udfff", "message": "What is PRP?"}')
    assert status == 200, messages
    assert "platelet" in texts(messages).lower()
    assert rasa_is_running(servers)
    status, messages = say(servers, f"after-{uuid.uuid4().hex}", "What is PRP?")
    assert status == 200 and "platelet" in texts(messages).lower()


def test_lone_surrogate_in_an_emergency_still_gets_911(world):
    body = (
        b'{"sender": "surrogate-911", "message": "I lost control of my bladder and my legs are weak \\ud83d"}'
    )
    status, messages = post_raw(world["servers"], body)
    assert status == 200, messages
    assert is_911(messages)


# --- row 12: typed payloads -------------------------------------------------------------------


def test_typed_payload_with_an_emergency_gets_911(world):
    status, messages = say(
        world["servers"], "payload-911", '/greet{"a":1} I lost control of my bladder and legs weak'
    )
    assert status == 200 and is_911(messages), messages


@pytest.mark.parametrize("typed", ["/restart", "/session_start", '/faq{"x":1}', "/action_listen", "/"])
def test_typed_internal_payloads_are_read_as_text(world, typed):
    status, messages = say(world["servers"], f"payload-{uuid.uuid4().hex}", typed)
    assert status == 200, messages
    assert "technical trouble" not in texts(messages)


def test_typed_back_does_not_undo_the_booking_form(world):
    servers, sender = world["servers"], f"payload-back-{uuid.uuid4().hex}"
    _, messages = say(servers, sender, "I want to book an appointment")
    assert "full name" in texts(messages)
    say(servers, sender, "Maria Lopez")
    _, first = say(servers, sender, "/back")
    _, second = say(servers, sender, "/back")
    # Still in the form: the bot asks a booking question, never the greeting or a topic menu.
    assert "phone" in texts(second).lower() or "name" in texts(second).lower(), (first, second)
    assert "technical trouble" not in texts(first + second)


# --- row 3: a booking submitted while the clinic database is locked ----------------------------


def test_locked_database_at_submit_keeps_the_booking_and_the_conversation(world):
    servers, tmp = world["servers"], world["tmp"]
    sender = f"locked-{uuid.uuid4().hex}"
    for text in [
        "I'd like to book an appointment",
        "Maria Lopez",
        "(305) 555-0123",
        "skip",
        an_open_day(),
        "RELIEF",
    ]:
        status, messages = say(servers, sender, text)
        assert status == 200, messages
    status, messages = say(servers, sender, "/affirm")
    assert "Shall I send it" in texts(messages)
    blocker = sqlite3.connect(tmp / "clinic.db", isolation_level=None, timeout=5)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        status, messages = say(servers, sender, "yes")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert status == 200 and "received" in texts(messages), messages
    # The conversation goes on normally: no "technical trouble", emergencies answered.
    status, messages = say(servers, sender, "What is PRP?")
    assert status == 200 and "platelet" in texts(messages).lower(), messages
    status, messages = say(servers, sender, "I lost control of my bladder and my legs are going numb")
    assert is_911(messages)
    # The kept request is stored once, however many times the spool is drained.
    for _ in range(2):
        subprocess.run([sys.executable, "-m", "bot", "bookings", "retry"], cwd=PROJECT_ROOT, timeout=120)
    with sqlite3.connect(tmp / "clinic.db") as db:
        (count,) = db.execute("select count(*) from booking_requests where name = 'Maria Lopez'").fetchone()
    assert count == 1


# --- row 6 and 7: size limits -----------------------------------------------------------------


def test_huge_message_gets_its_emergency_check_and_does_not_block_others(world):
    servers = world["servers"]
    filler = "my back has been sore for years. " * 30_000  # ~990,000 characters, under 1 MB
    body = json.dumps({"sender": "huge", "message": filler + "Now I lost control of my bladder."}).encode()
    finished: List[str] = []
    results = {}

    def huge() -> None:
        results["huge"] = post_raw(servers, body, timeout=120)
        finished.append("huge")

    worker = threading.Thread(target=huge)
    worker.start()
    time.sleep(0.3)  # the huge request is being read or checked now
    status, messages = say(servers, f"small-{uuid.uuid4().hex}", "What is PRP?")
    finished.append("small")
    worker.join(120)
    assert status == 200 and "platelet" in texts(messages).lower()
    assert results["huge"][0] == 200 and is_911(results["huge"][1]), results["huge"]
    assert finished == ["small", "huge"]


def test_request_over_the_size_cap_is_refused_and_the_server_stays_up(world):
    servers = world["servers"]
    metadata = {"blob": "x" * (5 * 1024 * 1024)}
    try:
        status, _ = say(servers, "metadata-huge", "What is PRP?", metadata=metadata)
    except urllib.error.URLError:
        status = 413  # Sanic answers 413 and closes while the client is still sending: a reset
    assert status == 413
    assert rasa_is_running(servers)
    status, messages = say(servers, f"after-huge-{uuid.uuid4().hex}", "What is PRP?")
    assert status == 200 and "platelet" in texts(messages).lower()


def test_oversized_metadata_is_not_stored(world):
    servers, sender = world["servers"], f"metadata-{uuid.uuid4().hex}"
    status, messages = say(servers, sender, "What is PRP?", metadata={"blob": "y" * 200_000})
    assert status == 200 and "platelet" in texts(messages).lower()
    with sqlite3.connect(world["tmp"] / "tracker.db") as db:
        (largest,) = db.execute(
            "select max(length(data)) from events where sender_id = ?", (sender,)
        ).fetchone()
    assert largest < 50_000


# --- row 13: bursts -----------------------------------------------------------------------------


def test_a_burst_of_400_connections_is_accepted(world):
    url = world["servers"].rest_url.removesuffix("webhook")
    errors: List[str] = []

    def hit() -> None:
        try:
            with urllib.request.urlopen(url, timeout=60) as reply:
                reply.read()
        except Exception as error:  # noqa: BLE001 - any failure counts
            errors.append(type(error).__name__)

    threads = [threading.Thread(target=hit) for _ in range(400)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert errors == []


# --- fuzzing: any body, any text (before the tests that stop the action server) ---------------

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,  # nothing written to the work tree
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

any_char = st.characters(exclude_categories=())  # surrogates and controls included
any_text = st.text(any_char, max_size=300)
json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text
any_json = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=20,
)
rest_body = st.one_of(
    any_json,
    st.fixed_dictionaries({"sender": any_json, "message": any_json}),
    st.fixed_dictionaries({"sender": any_text, "message": any_text}),
    st.fixed_dictionaries({"sender": any_text, "message": any_text, "metadata": any_json}),
)


def post(url: str, data: bytes, headers: Dict[str, str]) -> int:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, headers=headers), timeout=60
        ) as reply:
            reply.read()
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


def post_json(servers: Any, body: bytes) -> int:
    return post(servers.rest_url, body, {"Content-Type": "application/json"})


def nested(depth: int) -> Any:
    value: Any = "What is PRP?"
    for _ in range(depth):
        value = {"message": value}
    return value


@FUZZ
@given(body=rest_body)
@example(body={"sender": "x\udfff", "message": "What is PRP?"})
@example(body={"sender": "fuzz", "message": "I lost control of my bladder \ud83d"})
@example(body={"sender": "fuzz", "message": "\x00\x1b[31m" * 500})
@example(body={"sender": "fuzz", "message": "é" * 300_000})
@example(body={"sender": "fuzz", "message": nested(5), "metadata": nested(400)})
@example(body={"sender": ["a"], "message": {"text": "hi"}})
def test_rest_answers_every_json_body_under_500(world, body):
    status = post_json(world["servers"], json.dumps(body, ensure_ascii=True).encode())
    assert status < 500


@FUZZ
@given(raw=st.binary(max_size=2000))
@example(raw=b'{"sender": "x", "message": "\\ud800\\udc00\\udfff"}')
@example(raw=b"[" * 10_000)
def test_rest_answers_every_raw_body_under_500(world, raw):
    assert post_json(world["servers"], raw) < 500


def signed_form(path: str, params: Dict[str, str]) -> Dict[str, str]:
    url = TWILIO_ENV["PUBLIC_BASE_URL"] + path
    signature = RequestValidator(TWILIO_ENV["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}


form_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=400)  # a form is UTF-8


@FUZZ
@given(
    channel=st.sampled_from(["sms", "whatsapp"]),
    body=form_text,
    sid=form_text,
    phone=st.from_regex(r"\+1305[2-9]\d{6}", fullmatch=True) | form_text,
    extra=st.dictionaries(
        st.sampled_from(["FromCity", "NumMedia", "MediaUrl0", "ProfileName", "WaId"]), form_text
    ),
)
@example(channel="sms", body="", sid="SM1", phone="+13055551234", extra={"NumMedia": "1", "FromCity": ""})
@example(channel="whatsapp", body="I lost control of my bladder", sid="SM2", phone="+13055551235", extra={})
def test_texting_answers_every_signed_form_under_500(world, channel, body, sid, phone, extra):
    servers = world["servers"]
    sender = f"whatsapp:{phone}" if channel == "whatsapp" else phone
    params = {"Body": body, "MessageSid": sid, "From": sender, **extra}
    path = f"/webhooks/{channel}/webhook"
    url = f"http://127.0.0.1:{servers.settings.bot_port}{path}"
    status = post(url, urllib.parse.urlencode(params).encode(), signed_form(path, params))
    assert status < 500


def test_the_rasa_server_survived_the_fuzzing(world):
    assert rasa_is_running(world["servers"])


# --- row 11 and 5: a slow or dead action server -------------------------------------------------


def test_a_hung_action_server_gets_an_apology_within_the_deadline(world):
    servers = world["servers"]
    phone = load_clinic_settings().phone
    os.kill(servers.pid("actions"), signal.SIGSTOP)
    try:
        started = time.monotonic()
        status, messages = say(servers, f"hung-{uuid.uuid4().hex}", "I want to book an appointment")
        waited = time.monotonic() - started
    finally:
        os.kill(servers.pid("actions"), signal.SIGCONT)
    assert status == 503 and phone in texts(messages) and "911" in texts(messages)
    # Rasa's own action timeout is 5 minutes; the deadline is 10 s (generous bound: noisy machine).
    assert waited < 60


def test_killed_action_server_mid_booking(world):
    servers, sender = world["servers"], f"killed-{uuid.uuid4().hex}"
    _, messages = say(servers, sender, "I want to book an appointment")
    assert "full name" in texts(messages)
    old_pid = servers.pid("actions")
    os.kill(old_pid, signal.SIGKILL)
    status, messages = say(servers, sender, "I can't feel my legs and I wet myself")
    assert is_911(messages), messages
    status, messages = say(servers, f"faq-{uuid.uuid4().hex}", "What is PRP?")
    assert status == 200 and "platelet" in texts(messages).lower()
    assert rasa_is_running(servers)
    # The supervisor brings the action server back, and /health says so.
    assert wait_for(
        lambda: servers.pid("actions") != old_pid and get(servers, "/health")[1]["status"] == "ok"
    )
    status, messages = say(servers, sender, "I want to book an appointment")
    assert status == 200 and "full name" in texts(messages), messages


def test_health_reports_degraded_while_the_action_server_is_away(world):
    servers = world["servers"]
    assert get(servers, "/health") == (200, {"status": "ok", "model": True, "action_server": True})
    os.kill(servers.pid("actions"), signal.SIGSTOP)
    try:
        status, body = get(servers, "/health")
    finally:
        os.kill(servers.pid("actions"), signal.SIGCONT)
    assert status == 200 and body["status"] == "degraded" and body["action_server"] is False


# --- row 8 and 10: privacy of logs and files ----------------------------------------------------

PATIENT = {"name": "Zelda Quintero", "phone": "(305) 555-0188", "email": "zelda.q@example.org"}
TEXTER_PHONE = "+13055550177"


def sms(servers: Servers, body: str) -> int:
    path = "/webhooks/sms/webhook"
    params = {"Body": body, "MessageSid": f"SM{uuid.uuid4().hex}", "From": TEXTER_PHONE, "To": "+13055550100"}
    url = f"http://127.0.0.1:{servers.settings.bot_port}{path}"
    return post(url, urllib.parse.urlencode(params).encode(), signed_form(path, params))


def staff_session(servers: Servers) -> None:
    import http.cookiejar

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = urllib.parse.urlencode({"username": "dana", "password": STAFF_PASSWORD}).encode()
    opener.open(servers.demo_url + "staff/login", data=login, timeout=60).read()
    assert "inbox" in opener.open(servers.demo_url + "staff/", timeout=60).read().decode().lower()


def test_no_contact_details_in_any_log_after_every_flow(world):
    servers, tmp = world["servers"], world["tmp"]
    sender = f"pii-{uuid.uuid4().hex}"
    answers = ["I'd like to book an appointment", PATIENT["name"], PATIENT["phone"], PATIENT["email"]]
    for text in [*answers, an_open_day(), "PRP", "/affirm", "yes"]:
        assert say(servers, sender, text)[0] in (200, 503)
    # By SMS: "1" picks "this number" for the phone.
    for body in [
        "hi",
        "I want to book an appointment",
        PATIENT["name"],
        "1",
        PATIENT["email"],
        an_open_day(),
    ]:
        assert sms(servers, body) == 200
    # A failed save logs its error too: a locked database during a submit.
    other = f"pii-locked-{uuid.uuid4().hex}"
    for text in [*answers, an_open_day(), "PRP", "/affirm"]:
        say(servers, other, text)
    blocker = sqlite3.connect(tmp / "clinic.db", isolation_level=None, timeout=5)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        say(servers, other, "yes")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    staff_session(servers)
    subprocess.run([sys.executable, "-m", "bot", "bookings", "retry"], cwd=PROJECT_ROOT, timeout=120)

    logs = "\n".join(path.read_text(errors="replace") for path in (tmp / "logs").glob("*.log"))
    assert logs, "the servers wrote no logs"
    digits = "".join(ch for ch in PATIENT["phone"] if ch.isdigit())
    for secret in [
        *PATIENT["name"].split(),
        PATIENT["email"],
        PATIENT["phone"],
        digits,
        digits[-7:],
        TEXTER_PHONE[2:],
    ]:
        assert secret not in logs, f"{secret!r} is in the logs"


def test_databases_and_logs_are_readable_by_their_owner_only(world):
    tmp = world["tmp"]
    for name in ("tracker.db", "clinic.db", "logs/rasa.log", "logs/actions.log"):
        assert (tmp / name).stat().st_mode & 0o777 == 0o600, name
