"""SMS and WhatsApp webhooks end to end: the real servers and model, requests signed the way Twilio
signs them (the twilio library's own RequestValidator.compute_signature), TwiML read back."""

from __future__ import annotations

import sqlite3
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
from typing import Dict, List, Optional, Tuple

import pytest
from twilio.request_validator import RequestValidator

from bot.bookings.store import BookingStore
from bot.channels.texting import SMS_MAX_CHARS, WHATSAPP_MAX_CHARS, gsm7_length
from bot.channels.twilio import EMPTY_MESSAGE_REPLY as MEDIA_ONLY_REPLY
from bot.launcher import Servers, settings_with_ports
from bot.sender_identity import SenderIdentity
from tests.conftest import free_port
from tests.test_e2e_booking import an_open_day

pytestmark = pytest.mark.e2e

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
SECRET = "test-sender-id-secret-0123456789"
PUBLIC_BASE_URL = "https://bot.example.org"  # as if behind a proxy: Twilio signs this URL
CLINIC_SMS_NUMBER = "+13055550100"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("texting")
    env = {
        "DATABASE_URL": f"sqlite:///{tmp / 'clinic.db'}",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_SMS_NUMBER": CLINIC_SMS_NUMBER,
        "TWILIO_WHATSAPP_NUMBER": "whatsapp:+13055550101",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SENDER_ID_SECRET": SECRET,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)  # the launcher passes its environment on to both servers
        settings = settings_with_ports(free_port(), free_port(), tmp / "tracker.db")
        with Servers(settings, log_dir=tmp / "logs") as servers:
            yield {"servers": servers, "tmp": tmp, "env": env}


def a_phone() -> str:
    """A fresh valid Miami number per test (555-01xx numbers are not valid for phonenumbers)."""
    return f"+1305{uuid.uuid4().int % 7_000_000 + 2_000_000}"


class Texter:
    """A patient's phone as Twilio presents it to the webhook."""

    def __init__(self, world, channel: str = "sms", phone: Optional[str] = None) -> None:
        self.servers = world["servers"]
        self.channel = channel
        self.phone = phone or a_phone()
        self.path = f"/webhooks/{channel}/webhook"

    @property
    def sender(self) -> str:
        return f"whatsapp:{self.phone}" if self.channel == "whatsapp" else self.phone

    def post(
        self,
        params: Dict[str, str],
        signed_url: Optional[str] = None,
        signature: Optional[str] = None,
        tamper: Optional[Dict[str, str]] = None,
    ) -> Tuple[int, str]:
        signature = (
            signature
            if signature is not None
            else RequestValidator(AUTH_TOKEN).compute_signature(
                signed_url or PUBLIC_BASE_URL + self.path, params
            )
        )
        body = urllib.parse.urlencode({**params, **(tamper or {})}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature:
            headers["X-Twilio-Signature"] = signature
        local_url = f"http://127.0.0.1:{self.servers.settings.bot_port}{self.path}"
        try:
            with urllib.request.urlopen(
                urllib.request.Request(local_url, data=body, headers=headers), timeout=60
            ) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def params(self, body: Optional[str], sid: Optional[str] = None) -> Dict[str, str]:
        params = {
            "MessageSid": sid or f"SM{uuid.uuid4().hex}",
            "AccountSid": "AC" + "0" * 32,
            "From": self.sender,
            "To": CLINIC_SMS_NUMBER,
            "NumMedia": "0",
            "FromCity": "MIAMI",
        }
        if body is not None:
            params["Body"] = body
        return params

    def text(self, body: Optional[str], sid: Optional[str] = None) -> List[str]:
        status, xml = self.post(self.params(body, sid))
        assert status == 200, xml
        replies = messages_in(xml)
        limit = SMS_MAX_CHARS if self.channel == "sms" else WHATSAPP_MAX_CHARS
        for reply in replies:
            assert len(reply) <= limit, reply
        return replies

    @property
    def conversation_id(self) -> str:
        return SenderIdentity(SECRET).conversation_id(self.channel, self.phone)


def messages_in(twiml: str) -> List[str]:
    root = ElementTree.fromstring(twiml)
    assert root.tag == "Response"
    return [message.text or "" for message in root.iter("Message")]


def stored_user_texts(world, conversation_id: str) -> List[str]:
    with sqlite3.connect(world["tmp"] / "tracker.db") as connection:
        rows = connection.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (conversation_id,)
        ).fetchall()
    import json

    return [json.loads(data)["text"] for (data,) in rows]


# --- signatures -------------------------------------------------------------------------------


def test_a_signed_question_is_answered_in_twiml(world):
    replies = Texter(world).text("how long does relief from radiofrequency ablation last?")
    assert "6 months to a year" in replies[0] and replies[0].endswith("Reply MORE for details.")


@pytest.mark.parametrize("attack", ["tampered body", "wrong url", "no signature", "bad signature"])
def test_unsigned_or_tampered_requests_are_refused_and_not_processed(world, attack):
    texter = Texter(world)
    params = texter.params("what is PRP?")
    if attack == "tampered body":
        status, _ = texter.post(params, tamper={"Body": "something else"})
    elif attack == "wrong url":
        status, _ = texter.post(params, signed_url="https://evil.example.com" + texter.path)
    elif attack == "no signature":
        status, _ = texter.post(params, signature="")
    else:
        status, _ = texter.post(params, signature="bm90IGEgc2lnbmF0dXJl")
    assert status == 403
    assert stored_user_texts(world, texter.conversation_id) == []


def test_the_local_url_is_not_accepted_when_a_public_base_url_is_set(world):
    texter = Texter(world)
    local = f"http://127.0.0.1:{world['servers'].settings.bot_port}{texter.path}"
    status, _ = texter.post(texter.params("hi"), signed_url=local)
    assert status == 403


# --- odd input --------------------------------------------------------------------------------


def test_missing_body_gets_a_polite_answer(world):
    replies = Texter(world).text(None)
    assert replies == [MEDIA_ONLY_REPLY]
    assert replies[0].startswith("I can only read text messages.") and "911" in replies[0]


def test_missing_sender_is_a_bad_request(world):
    texter = Texter(world)
    params = texter.params("hi")
    del params["From"]
    assert texter.post(params)[0] == 400


def test_a_huge_body_is_declined_politely_but_still_checked_for_emergencies(world):
    texter = Texter(world)
    assert "shorter message" in texter.text("I have a question about PRP. " * 80)[0]
    urgent = texter.text("I fell off a ladder and now I cannot feel my legs. " + "More details. " * 150)
    assert urgent[0].startswith("Please call 911")


def test_an_oversized_request_is_refused(world):
    texter = Texter(world)
    assert texter.post(texter.params("x" * 70_000))[0] == 413


def test_spanish_characters_reach_the_bot_unchanged(world):
    texter = Texter(world)
    question = "¿Qué es PRP? ¡Gracias! Señora Núñez"
    texter.text(question)
    assert stored_user_texts(world, texter.conversation_id) == [question]


# --- retries, keywords ------------------------------------------------------------------------


def test_a_retried_message_sid_gets_exactly_one_reply(world):
    texter = Texter(world)
    first = texter.text("what is PRP?", sid="SM-retry-1")
    again = texter.text("what is PRP?", sid="SM-retry-1")
    assert first and again == []
    assert stored_user_texts(world, texter.conversation_id) == ["what is PRP?"]


def test_stop_silences_the_bot_until_start(world):
    texter = Texter(world)
    assert texter.text("STOP") == []  # Twilio's opt-out handling confirms STOP on SMS
    assert texter.text("what is PRP?") == []
    assert texter.text("hello") == []
    assert stored_user_texts(world, texter.conversation_id) == []
    assert "again" in texter.text("START")[0]
    assert "PRP" in texter.text("what is PRP?")[0]


@pytest.mark.parametrize("word", ["unsubscribe", "Cancel", "end", "QUIT", "stop."])
def test_every_opt_out_keyword_stops_replies(world, word):
    texter = Texter(world)
    texter.text(word)
    assert texter.text("what is PRP?") == []


def test_help_gives_the_clinic_name_and_phone(world):
    from bot.clinic import load_clinic_settings

    clinic = load_clinic_settings()
    [reply] = Texter(world).text("HELP")
    assert clinic.name in reply and clinic.phone in reply and "STOP" in reply


def test_the_emergency_answer_comes_first(world):
    texter = Texter(world)
    texter.text("what is PRP?")
    replies = texter.text("I suddenly lost control of my bladder and my groin feels numb")
    assert replies[0].startswith("Please call 911") and "988" in replies[0]


# --- the medium -------------------------------------------------------------------------------


def test_buttons_are_numbered_and_a_number_picks_one(world):
    texter = Texter(world)
    greeting = texter.text("hello")
    assert greeting[-1].endswith(
        "Reply 1 for Facet joints, 2 for Treatments, 3 for PRP, 4 for RELIEF, 5 for Book a visit."
    )
    assert "/book_appointment" not in " ".join(greeting)
    assert "hinge-like joints" in texter.text("1")[0]


def test_more_sends_the_full_answer_in_sms_sized_parts(world):
    texter = Texter(world)
    short = texter.text("what is PRP made of?")[0]
    parts = texter.text("MORE")
    assert len(" ".join(parts)) > len(short) and "TGF-beta" in " ".join(parts)
    assert all(gsm7_length(part) is not None for part in parts)


def test_whatsapp_replies_use_its_limits_and_bold(world):
    texter = Texter(world, channel="whatsapp")
    answer = texter.text("what is PRP?")
    assert "TGF-beta" in answer[0]  # WhatsApp gets the full answer, not the SMS variant
    assert "**" not in " ".join(answer)
    assert Texter(world, channel="whatsapp").post(Texter(world).params("hi"))[0] == 400  # an SMS sender


def test_phone_numbers_stay_out_of_the_tracker_store_and_logs(world):
    texter = Texter(world)
    texter.text("what is PRP?")
    digits = texter.phone[2:]
    assert digits not in (world["tmp"] / "tracker.db").read_bytes().decode("latin-1")
    logs = "".join(path.read_text(errors="replace") for path in (world["tmp"] / "logs").glob("*"))
    assert digits not in logs


def test_a_full_booking_over_sms_offers_the_number_texting_from(world):
    texter = Texter(world)
    assert "full name" in texter.text("I'd like to book an appointment")[-1]
    phone_question = texter.text("Maria Lopez")[-1]
    assert phone_question.endswith("Reply 1 for This number.")
    assert "email" in texter.text("1")[-1]
    assert "Which day" in texter.text("skip")[-1]
    when = texter.text(an_open_day())
    assert "interested" in when[-1], when
    assert "contact you" in texter.text("RELIEF")[-1]
    summary = texter.text("yes")
    assert "Maria Lopez" in summary[0] and texter.phone in summary[0]
    assert "Reply 1 for" in summary[-1]
    confirmation = texter.text("1")[0]
    assert "not a confirmed appointment" in confirmation
    stored = [
        request
        for request in BookingStore.from_url(world["env"]["DATABASE_URL"]).list()
        if request.phone == texter.phone
    ]
    assert len(stored) == 1 and stored[0].name == "Maria Lopez" and stored[0].reference in confirmation


def test_a_full_spanish_booking_over_sms(world):
    """The same flow in Spanish: answers, numbered options and the request summary in Spanish."""
    texter = Texter(world)
    greeting = texter.text("hola, quiero una cita para el tratamiento RELIEF")
    assert "nombre completo" in greeting[-1]
    phone_question = texter.text("Lucía Fernández")[-1]
    assert phone_question.endswith("Responda 1 para Este número.")
    assert "correo" in texter.text("1")[-1]
    assert "día y hora" in texter.text("omitir")[-1]
    when = texter.text("el martes que viene a las 10 de la mañana")
    assert when[0].startswith("Entendido:") and "interesa" in when[-1], when
    assert "comunicarse con usted" in texter.text("RELIEF")[-1]
    summary = texter.text("sí")
    assert "Lucía Fernández" in summary[0] and "¿La envío a la clínica?" in summary[0]
    confirmation = texter.text("1")[0]
    assert confirmation.startswith("¡Gracias!")
    [stored] = [
        request
        for request in BookingStore.from_url(world["env"]["DATABASE_URL"]).list()
        if request.phone == texter.phone
    ]
    assert stored.language == "es" and stored.reference in confirmation


def test_a_spanish_emergency_by_sms_gets_911_first_in_spanish(world):
    replies = Texter(world).text("me caí de la escalera y ya no siento las piernas")
    assert replies[0].startswith("Llame al 911")
