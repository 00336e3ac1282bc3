"""The SMS and WhatsApp webhooks through a real Sanic server, without a model.

Requests carry Twilio's real field sets (tests/fixtures/twilio_*.json), signed by the twilio
library's own RequestValidator.compute_signature over every parameter, blank ones included, and
posted to the channels' blueprints as Rasa mounts them (/webhooks/<channel>). Rasa's dialogue
engine is replaced by a recorder that answers "Echo: <text>" (tests/test_e2e_texting.py covers the
real model); the texting state is a real SQLite database.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import uuid
import xml.etree.ElementTree as ElementTree
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

from bot import PROJECT_ROOT
from bot.channels.texting import gsm7_length, sms_segments
from bot.channels.texting_state import TextingState
from bot.channels.twilio import EMPTY_MESSAGE_REPLY, STOP_WORDS, SmsInput, TwilioSettings, WhatsAppInput
from bot.clinic import load_clinic_settings
from bot.sender_identity import SenderIdentity
from tests.sanic_server import http, serving

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
SECRET = "test-sender-id-secret-0123456789"
PUBLIC_BASE_URL = "https://bot.example.org"  # Twilio signs the public URL, not the loopback one
FIXTURES = PROJECT_ROOT / "tests" / "fixtures"

Params = Union[Dict[str, str], List[Tuple[str, str]]]


def fixture(name: str) -> Tuple[str, Dict[str, str]]:
    data = json.loads((FIXTURES / f"twilio_{name}.json").read_text(encoding="utf-8"))
    return data["channel"], dict(data["params"])


class MultiValued(dict):
    """name -> [values], with the getlist() the twilio library reads repeated names through."""

    def getlist(self, name: str) -> List[str]:
        return self[name]


def as_multi(pairs: Sequence[Tuple[str, str]]) -> MultiValued:
    multi = MultiValued()
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return multi


class Recorder:
    """Stands in for Rasa's agent.handle_message: keeps each message and answers it."""

    def __init__(self) -> None:
        self.messages: List[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"Echo: {message.text}")


class Webhooks:
    def __init__(self, base_url: str, state: TextingState, engine, recorder: Recorder) -> None:
        self.base_url = base_url
        self.state = state
        self.engine = engine
        self.recorder = recorder

    def post(
        self,
        channel: str,
        signed: Params,
        sent: Optional[Params] = None,
        raw_body: Optional[bytes] = None,
        signature: Optional[str] = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> Tuple[int, str]:
        """Signs `signed` as Twilio does and posts `sent` (default: the same parameters)."""
        path = f"/webhooks/{channel}/webhook"
        if signature is None:
            to_sign = as_multi(signed) if isinstance(signed, list) else signed
            signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, to_sign)
        body = (
            raw_body
            if raw_body is not None
            else urllib.parse.urlencode(signed if sent is None else sent).encode()
        )
        headers = {"Content-Type": content_type}
        if signature:
            headers["X-Twilio-Signature"] = signature
        status, _, reply = http(self.base_url + path, data=body, headers=headers)
        return status, reply

    def handled_sids(self) -> List[str]:
        with self.engine.connect() as connection:
            return [
                row[0] for row in connection.execute(text("SELECT message_sid FROM texting_handled_messages"))
            ]


def replies_in(twiml: str) -> List[str]:
    root = ElementTree.fromstring(twiml)
    assert root.tag == "Response"
    return [message.text or "" for message in root.iter("Message")]


def conversation_id(channel: str, phone: str) -> str:
    return SenderIdentity(SECRET).conversation_id(channel, phone)


@pytest.fixture
def webhooks(tmp_path, monkeypatch) -> Iterator[Webhooks]:
    monkeypatch.setattr(Sanic, "test_mode", True)  # several apps of one name in one process
    engine = create_engine(f"sqlite:///{tmp_path / 'clinic.db'}", future=True)
    state = TextingState(engine)
    recorder = Recorder()
    app = Sanic(f"twilio_webhooks_{uuid.uuid4().hex[:8]}")
    for channel_class, number in ((SmsInput, "+13055550100"), (WhatsAppInput, "whatsapp:+13055550101")):
        settings = TwilioSettings("AC0123456789abcdef0123456789abcdef", AUTH_TOKEN, number, PUBLIC_BASE_URL)
        channel = channel_class(settings, SenderIdentity(SECRET), state)
        # What rasa.core.channels.channel.register does with each channel.
        app.blueprint(channel.blueprint(recorder), url_prefix=f"/webhooks/{channel.name()}")
    with serving(app) as base_url:
        yield Webhooks(base_url, state, engine, recorder)
    engine.dispose()


# --- real Twilio requests, signed over every parameter ----------------------------------------


def test_an_sms_with_blank_geographic_fields_is_answered(webhooks):
    channel, params = fixture("sms")
    assert params["FromCity"] == "" and params["FromZip"] == ""  # what Sanic's request.form drops
    status, twiml = webhooks.post(channel, params)
    assert status == 200, twiml
    assert replies_in(twiml) == ["Echo: What is PRP?"]
    [message] = webhooks.recorder.messages
    assert message.sender_id == conversation_id("sms", "+13055550123")
    assert message.message_id == params["MessageSid"] and message.input_channel == "sms"


def test_a_photo_only_mms_gets_the_text_only_reply(webhooks):
    channel, params = fixture("mms_photo")
    assert params["Body"] == "" and params["NumMedia"] == "1"
    status, twiml = webhooks.post(channel, params)
    assert status == 200, twiml
    assert replies_in(twiml) == [EMPTY_MESSAGE_REPLY]
    assert webhooks.recorder.messages == []  # nothing for the bot to read
    assert webhooks.handled_sids() == [params["MessageSid"]]


def test_a_whatsapp_message_with_profile_name_and_wa_id_is_answered(webhooks):
    channel, params = fixture("whatsapp")
    status, twiml = webhooks.post(channel, params)
    assert status == 200, twiml
    assert replies_in(twiml) == ["Echo: ¿Qué es PRP?"]
    [message] = webhooks.recorder.messages
    assert message.input_channel == "whatsapp"
    assert message.sender_id == conversation_id("whatsapp", "+13055550124")


def test_repeated_names_are_checked_with_every_value(webhooks):
    _, params = fixture("sms")
    pairs = list(params.items()) + [("ToCity", ""), ("AddOns", "{}"), ("AddOns", "")]
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        PUBLIC_BASE_URL + "/webhooks/sms/webhook", as_multi(pairs)
    )
    # One value of a repeated name left out: not the request Twilio signed.
    one_left_out = [pair for pair in pairs if pair != ("AddOns", "{}")]
    assert webhooks.post("sms", pairs, sent=one_left_out, signature=signature)[0] == 403
    status, twiml = webhooks.post("sms", pairs, signature=signature)
    assert status == 200, twiml
    assert replies_in(twiml) == ["Echo: What is PRP?"]


# --- what must still be refused ---------------------------------------------------------------


@pytest.mark.parametrize(
    "attack",
    [
        "tampered body",
        "blank parameter left out",
        "unsigned blank parameter added",
        "wrong url",
        "no signature",
    ],
)
def test_tampered_or_incomplete_requests_are_refused_and_not_stored(webhooks, attack):
    channel, params = fixture("sms")
    if attack == "tampered body":
        status, _ = webhooks.post(channel, params, sent={**params, "Body": "something else"})
    elif attack == "blank parameter left out":
        sent = {name: value for name, value in params.items() if name != "FromCity"}
        status, _ = webhooks.post(channel, params, sent=sent)
    elif attack == "unsigned blank parameter added":
        status, _ = webhooks.post(channel, params, sent={**params, "ToCity2": ""})
    elif attack == "wrong url":
        signature = RequestValidator(AUTH_TOKEN).compute_signature(
            "https://evil.example.com/webhooks/sms/webhook", params
        )
        status, _ = webhooks.post(channel, params, signature=signature)
    else:
        status, _ = webhooks.post(channel, params, signature="")
    assert status == 403
    assert webhooks.recorder.messages == [] and webhooks.handled_sids() == []


def test_a_body_that_is_not_a_form_is_refused(webhooks):
    _, params = fixture("sms")
    status, _ = webhooks.post("sms", params, content_type="multipart/form-data; boundary=x")
    assert status == 415


# --- input hygiene ----------------------------------------------------------------------------


def test_control_characters_are_removed_from_the_text_before_the_bot_sees_it(webhooks):
    _, params = fixture("sms")
    status, twiml = webhooks.post("sms", {**params, "Body": "What\x00 is\x1b PRP?\x7f"})
    assert status == 200, twiml
    assert [message.text for message in webhooks.recorder.messages] == ["What is PRP?"]


def test_an_encoded_lone_surrogate_in_the_text_becomes_a_replacement_character(webhooks):
    """%ED%A0%80 is U+D800 written as UTF-8, which no valid sender produces; signed here over what
    the standard form decoder reads from it."""
    _, params = fixture("sms")
    raw = urllib.parse.urlencode({**params, "Body": "PRP"}).replace("Body=PRP", "Body=%ED%A0%80PRP%F0")
    signed = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
    status, twiml = webhooks.post("sms", signed, raw_body=raw.encode())
    assert status == 200, twiml
    [message] = webhooks.recorder.messages
    assert message.text.startswith("\ufffd") and message.text.endswith("PRP\ufffd")
    assert not any("\ud800" <= char <= "\udfff" for char in message.text)
    message.text.encode("utf-8")  # storable


@pytest.mark.parametrize(
    "field, value",
    [
        ("MessageSid", "SM0123\x00456789abcdef"),
        ("MessageSid", "SM" + "0" * 63),  # longer than the store's column
        ("MessageSid", "SM\ufffd0123456789abcdef"),
        ("From", "+13055550123\x00"),
        ("From", "+1305555\u202e0123"),
        ("From", "+13055550123 "),
        ("From", "\ufffd"),
    ],
)
def test_a_malformed_id_is_refused_before_any_store_sees_it(webhooks, field, value):
    _, params = fixture("sms")
    status, _ = webhooks.post("sms", {**params, field: value})
    assert status == 400
    assert webhooks.recorder.messages == [] and webhooks.handled_sids() == []


def test_stop_from_a_malformed_sender_cannot_key_an_opt_out(webhooks):
    _, params = fixture("sms")
    status, _ = webhooks.post("sms", {**params, "Body": "STOP", "From": "+13055550123\x1f"})
    assert status == 400
    assert not webhooks.state.is_opted_out(conversation_id("sms", "+13055550123\x1f"))
    assert not webhooks.state.is_opted_out(conversation_id("sms", "+13055550123"))


@pytest.mark.parametrize("field", ["Body", "From", "MessageSid"])
def test_a_field_we_read_must_come_once(webhooks, field):
    _, params = fixture("sms")
    pairs = list(params.items()) + [(field, params[field] + "2")]
    status, _ = webhooks.post("sms", pairs)
    assert status == 400 and webhooks.recorder.messages == []


@pytest.mark.parametrize(
    "raw_body",
    [
        b"Body=\xff\xfe&From=%2B13055550123&MessageSid=SM1",
        b"Body=%ED%A0%80&From=%ED%B0%80&MessageSid=%00",
        b"=&&==&Body",
        b"Body=" + b"%" * 5000,
    ],
)
def test_unsigned_garbage_is_refused_without_a_crash(webhooks, raw_body):
    status, _ = webhooks.post("sms", {}, raw_body=raw_body, signature="bm90IGEgc2lnbmF0dXJl")
    assert status == 403


def test_a_typed_intent_payload_reaches_the_bot_as_text(webhooks):
    _, params = fixture("sms")
    status, _ = webhooks.post("sms", {**params, "Body": "/restart"})
    assert status == 200
    assert [message.text for message in webhooks.recorder.messages] == ["restart"]


# --- keywords and replies in Spanish --------------------------------------------------------------


@pytest.mark.parametrize("body", ["AYUDA", "ayuda", "Ayuda."])
def test_ayuda_gets_the_help_reply_in_spanish(webhooks, body):
    _, params = fixture("sms")
    status, twiml = webhooks.post("sms", {**params, "Body": body})
    [reply] = replies_in(twiml)
    assert status == 200 and reply.startswith(load_clinic_settings().name)
    assert f"llame al {load_clinic_settings().phone}" in reply and "llame al 911" in reply
    assert "Responda STOP" in reply
    assert webhooks.recorder.messages == []


def test_help_stays_in_english(webhooks):
    _, params = fixture("sms")
    [reply] = replies_in(webhooks.post("sms", {**params, "Body": "HELP"})[1])
    assert "I answer questions about facet joint pain" in reply and "For an emergency call 911" in reply


@pytest.mark.parametrize("body", ["MÁS", "más", "MAS", "Más información", "MORE"])
def test_mas_asks_for_the_full_answer_like_more(webhooks, body):
    _, params = fixture("sms")
    webhooks.post("sms", {**params, "Body": body})
    assert [message.text for message in webhooks.recorder.messages] == ["/faq_more"]


@pytest.mark.parametrize("keyword", sorted(STOP_WORDS))
def test_the_opt_out_keywords_are_twilios_default_ones_and_yes_opts_back_in(webhooks, keyword):
    twilio_defaults = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"}
    assert twilio_defaults == STOP_WORDS
    _, params = fixture("sms")
    cid = conversation_id("sms", params["From"])
    assert replies_in(webhooks.post("sms", {**params, "Body": keyword.upper()})[1]) == []
    assert webhooks.state.is_opted_out(cid)
    [again] = replies_in(webhooks.post("sms", {**params, "Body": "YES", "MessageSid": "SM" + "1" * 32})[1])
    assert "STOP" in again and not webhooks.state.is_opted_out(cid)


@pytest.mark.parametrize("body", ["PARAR", "baja", "Detener"])
def test_a_spanish_stop_word_is_told_how_to_stop_and_opts_nothing_out(webhooks, body):
    """Twilio acts on no Spanish keyword by default: opting out here would leave its block list and
    ours apart, so the patient is told to reply STOP (which Twilio does act on)."""
    _, params = fixture("sms")
    [reply] = replies_in(webhooks.post("sms", {**params, "Body": body})[1])
    assert reply == "Para dejar de recibir mensajes del asistente de la clínica, responda STOP."
    assert not webhooks.state.is_opted_out(conversation_id("sms", params["From"]))
    assert webhooks.recorder.messages == []


def test_cancelar_is_not_an_opt_out_and_reaches_the_bot(webhooks):
    _, params = fixture("sms")
    webhooks.post("sms", {**params, "Body": "CANCELAR"})
    assert [message.text for message in webhooks.recorder.messages] == ["CANCELAR"]
    assert not webhooks.state.is_opted_out(conversation_id("sms", params["From"]))


LANGUAGE_DOMAIN = Domain.from_dict(
    {
        "slots": {
            "language": {
                "type": "categorical",
                "values": ["en", "es"],
                "initial_value": "en",
                "influence_conversation": False,
                "mappings": [{"type": "custom"}],
            }
        }
    }
)
SPANISH_REPLY = (
    "La ablación por radiofrecuencia puede usarse si las inyecciones alivian poco. Busca un alivio más "
    "largo al interrumpir señales nerviosas. Puede durar de seis meses a un año, aunque el desgaste "
    "sigue. Pregunte a su médico si le conviene. También puede solicitar una visita en la clínica. "
    "¿Le gustaría pedir una cita?"
)
ENGLISH_REPLY = " ".join(
    f"Sentence {n} says something useful about facet joints and their care." for n in range(6)
)
BUTTONS = {
    "es": [
        {"title": "Sí, pedir una cita", "payload": "/book_appointment"},
        {"title": "No, gracias", "payload": "/deny"},
    ],
    "en": [
        {"title": "Yes, book a visit", "payload": "/book_appointment"},
        {"title": "No, thanks", "payload": "/deny"},
    ],
}


class LongReplier(Recorder):
    """Answers with a long text and two buttons in the conversation's language."""

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        text = SPANISH_REPLY if self.language == "es" else ENGLISH_REPLY
        await message.output_channel.send_text_with_buttons(message.sender_id, text, BUTTONS[self.language])


@contextmanager
def conversation_in(language: str, tmp_path, channel_class=SmsInput, phone="+13055550123"):
    """A texting webhook whose conversation with `phone` has the `language` slot set, kept in a
    real (in-memory) Rasa tracker store that the channel reads."""
    test_mode, Sanic.test_mode = Sanic.test_mode, True  # several apps of one name in one process
    engine = create_engine(f"sqlite:///{tmp_path / f'clinic-{language}.db'}", future=True)
    store = InMemoryTrackerStore(LANGUAGE_DOMAIN)
    channel_name = channel_class.channel_name
    cid = conversation_id(channel_name, phone)
    tracker = DialogueStateTracker.from_events(
        cid, [SlotSet("language", language)], slots=LANGUAGE_DOMAIN.slots
    )
    asyncio.run(store.save(tracker))
    recorder = LongReplier(language)
    app = Sanic(f"twilio_language_{uuid.uuid4().hex[:8]}")
    app.ctx.agent = SimpleNamespace(tracker_store=store, is_ready=lambda: False)
    number = "+13055550100" if channel_name == "sms" else "whatsapp:+13055550101"
    settings = TwilioSettings("AC0123456789abcdef0123456789abcdef", AUTH_TOKEN, number, PUBLIC_BASE_URL)
    channel = channel_class(settings, SenderIdentity(SECRET), TextingState(engine))
    app.blueprint(channel.blueprint(recorder), url_prefix=f"/webhooks/{channel.name()}")
    try:
        with serving(app) as base_url:
            yield Webhooks(base_url, TextingState(engine), engine, recorder)
    finally:
        engine.dispose()
        Sanic.test_mode = test_mode


def test_a_spanish_conversation_gets_spanish_options_in_parts_of_four_segments(tmp_path):
    with conversation_in("es", tmp_path) as webhooks:
        _, params = fixture("sms")
        parts = replies_in(webhooks.post("sms", {**params, "Body": "¿Qué es la ablación?"})[1])
    assert parts[-1].endswith("Responda 1 para Sí, pedir una cita, 2 para No, gracias.")
    assert " ".join(parts).startswith(SPANISH_REPLY[:40])
    assert all(sms_segments(part) <= 4 for part in parts)
    assert any(sms_segments(part) > 2 for part in parts)  # sized by the Spanish budget


def test_an_english_conversation_gets_parts_of_two_gsm7_segments(tmp_path):
    with conversation_in("en", tmp_path) as webhooks:
        _, params = fixture("sms")
        parts = replies_in(webhooks.post("sms", {**params, "Body": "What is ablation?"})[1])
    assert parts[-1].endswith("Reply 1 for Yes, book a visit, 2 for No, thanks.")
    assert len(parts) > 1 and all(gsm7_length(part) is not None and sms_segments(part) <= 2 for part in parts)


def test_a_photo_in_a_spanish_conversation_gets_the_text_only_reply_in_spanish(tmp_path):
    with conversation_in("es", tmp_path) as webhooks:
        _, params = fixture("mms_photo")
        [reply] = replies_in(webhooks.post("sms", params)[1])
    assert (
        reply.startswith("Solo puedo leer mensajes de texto.")
        and "Si es una emergencia, llame al 911." in reply
    )


@pytest.mark.parametrize(
    "sentence, start",
    [
        (
            "Tengo muchas preguntas sobre el tratamiento y el costo de la inyección. ",
            "Su mensaje es un poco largo",
        ),
        (
            "I have many questions about the treatment and the cost of the injection. ",
            "Your message is a bit long",
        ),
    ],
)
def test_a_too_long_message_is_answered_in_its_language(webhooks, sentence, start):
    _, params = fixture("sms")
    body = sentence * (1 + 1600 // len(sentence))
    [reply] = replies_in(webhooks.post("sms", {**params, "Body": body})[1])
    assert reply.startswith(start) and "911" in reply


def test_whatsapp_stop_is_confirmed_in_the_conversations_language(tmp_path):
    with conversation_in("es", tmp_path, WhatsAppInput, "+13055550124") as webhooks:
        _, params = fixture("whatsapp")
        [reply] = replies_in(webhooks.post("whatsapp", {**params, "Body": "STOP"})[1])
    assert reply.startswith("No recibirá más mensajes del asistente de la clínica.")
