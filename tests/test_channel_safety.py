"""The channels' shared safety layer: input hygiene and typed payloads (bot/channels/common.py,
bot/typed_payloads.py). The end-to-end replays are in tests/test_e2e_hardening.py."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.common import (
    answer_safely,
    clean_id,
    clean_text,
    emergency_text,
    trouble_text,
    without_lone_surrogates,
)
from bot.channels.rest import MAX_METADATA_BYTES, bounded_metadata
from bot.clinic import load_clinic_settings
from bot.typed_payloads import gate_payload


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("x\udfff", "x\ufffd"),
        ("\ud83d\ude00 ok", "\U0001f600 ok"),  # a valid pair, as some JSON parsers hand it over
        ("bladder \ud83d", "bladder \ufffd"),
        ("plain text, ñ and 中文", "plain text, ñ and 中文"),
    ],
)
def test_lone_surrogates_become_replacement_characters(raw, expected):
    assert without_lone_surrogates(raw) == expected
    without_lone_surrogates(raw).encode("utf-8")  # what the SQL store does; must not raise


def test_clean_text_and_ids_drop_controls_and_surrogates():
    assert clean_text("  hi\x00\x1b there\udfff \n") == "hi there\ufffd"
    assert clean_id("web-\udfff\x07id") == "web-\ufffdid"


def test_small_metadata_is_kept_and_large_or_odd_metadata_dropped():
    assert bounded_metadata({"page": "/prp"}) == {"page": "/prp"}
    assert bounded_metadata({"blob": "x" * MAX_METADATA_BYTES}) is None
    assert bounded_metadata(["not", "a", "dict"]) is None
    cleaned = bounded_metadata({"k\udfff": "v\ud800"})
    json.dumps(cleaned, ensure_ascii=False).encode("utf-8")


def agent_with_conversation(sender: str, events: list) -> SimpleNamespace:
    """A stand-in for the Agent exposing only a real tracker store holding one conversation."""
    store = InMemoryTrackerStore(Domain.empty())
    tracker = DialogueStateTracker.from_events(sender, events)
    asyncio.run(store.save(tracker))
    return SimpleNamespace(tracker_store=store)


SUMMARY_BUTTONS = [
    {"title": "Send request", "payload": "/affirm"},
    {"title": "Change phone", "payload": '/change_booking{"booking_field": "booking_phone"}'},
]


def gate(agent, text: str, sender: str = "p1") -> str:
    return asyncio.run(gate_payload(agent, sender, text))


def test_offered_payloads_and_plain_safe_intents_pass():
    agent = agent_with_conversation(
        "p1",
        [
            ActionExecuted("action_listen"),
            UserUttered("hi"),
            BotUttered("Here", data={"buttons": SUMMARY_BUTTONS}),
        ],
    )
    assert gate(agent, '/change_booking{"booking_field": "booking_phone"}') == SUMMARY_BUTTONS[1]["payload"]
    assert gate(agent, "/greet") == "/greet"
    assert gate(agent, "What is PRP?") == "What is PRP?"


@pytest.mark.parametrize(
    "typed, read_as",
    [
        ('/greet{"a":1} I lost control of my bladder', 'greet{"a":1} I lost control of my bladder'),
        ("/restart", "restart"),
        ("/session_start", "session_start"),
        ("/back", "back"),
        ('/faq{"x":1}', 'faq{"x":1}'),
        (
            '/change_booking{"booking_field": "booking_name"}',
            'change_booking{"booking_field": "booking_name"}',
        ),
        ("//", "?"),
    ],
)
def test_other_typed_payloads_are_read_as_text(typed, read_as):
    agent = agent_with_conversation(
        "p1", [UserUttered("hi"), BotUttered("Here", data={"buttons": SUMMARY_BUTTONS})]
    )
    assert gate(agent, typed) == read_as


def test_buttons_of_an_earlier_turn_are_no_longer_offered():
    agent = agent_with_conversation(
        "p1", [BotUttered("Here", data={"buttons": SUMMARY_BUTTONS}), UserUttered("something else")]
    )
    assert gate(agent, SUMMARY_BUTTONS[1]["payload"]).startswith("change_booking")


# --- answers given without the conversation, in the message's language ---------------------------

EMERGENCY_EN = "Please call 911 now or go to the nearest emergency room."
EMERGENCY_ES = "Llame al 911 ahora o vaya a la sala de emergencias más cercana."
SPANISH_CONDITION = [{"type": "slot", "name": "language", "value": "es"}]


def agent_with_emergency_answers() -> SimpleNamespace:
    """A stand-in exposing a domain's emergency answers (English, Spanish, an SMS one) and no model."""
    responses = {
        "utter_emergency": [
            {"text": EMERGENCY_EN},
            {"text": "short sms", "channel": "sms"},
            {"text": EMERGENCY_ES, "condition": SPANISH_CONDITION},
        ]
    }
    return SimpleNamespace(domain=SimpleNamespace(responses=responses), is_ready=lambda: False)


def test_the_apology_is_in_the_asked_language_with_the_phone_and_911():
    phone = load_clinic_settings().phone
    assert trouble_text() == trouble_text("en")
    assert trouble_text().startswith("Sorry, I'm having technical trouble") and phone in trouble_text()
    spanish = trouble_text("es")
    assert spanish.startswith("Disculpe, tengo problemas técnicos")
    assert "Si es una emergencia, llame al 911." in spanish and f"llame a la clínica al {phone}" in spanish


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I lost control of my bladder and my legs are numb", EMERGENCY_EN),
        ("perdí el control de la vejiga y tengo las piernas dormidas", EMERGENCY_ES),
        ("Tengo dolor de espalda con fiebre alta y no puedo controlar la orina", EMERGENCY_ES),
        # One word says nothing about the language: both answers, English first.
        ("incontinence", f"{EMERGENCY_EN}\n\n{EMERGENCY_ES}"),
    ],
)
def test_the_911_answer_is_in_the_messages_language_or_in_both(text, expected):
    assert asyncio.run(emergency_text(agent_with_emergency_answers(), text, red_flags_only=True)) == expected


def test_without_a_model_the_911_advice_still_comes_in_both_languages():
    answer = asyncio.run(emergency_text(None, "numb groin", red_flags_only=True))
    english, spanish = answer.split("\n\n")
    assert english.startswith("If this is an emergency, call 911.")
    assert spanish.startswith("Si es una emergencia, llame al 911.") and "sala de emergencias" in spanish


async def failing_turn(message) -> None:
    raise RuntimeError("the dialogue engine failed")


@pytest.mark.parametrize(
    "text, start",
    [
        ("¿Cuánto cuesta el tratamiento con plasma rico en plaquetas?", "Disculpe, tengo problemas técnicos"),
        ("How much does the platelet rich plasma treatment cost?", "Sorry, I'm having technical trouble"),
        ("PRP", "Sorry, I'm having technical trouble"),  # unknown: English
        ("perdí el control de la vejiga y tengo las piernas dormidas", EMERGENCY_ES),
    ],
)
def test_a_failed_turn_is_answered_in_the_messages_language(text, start):
    answer = asyncio.run(
        answer_safely(
            failing_turn, agent_with_emergency_answers(), text, "p1", CollectingOutputChannel(), "rest"
        )
    )
    assert answer.failed and answer.messages[0]["text"].startswith(start)
