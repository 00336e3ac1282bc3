"""The channels' shared safety layer: input hygiene and typed payloads (bot/channels/common.py,
bot/typed_payloads.py). The end-to-end replays are in tests/test_e2e_hardening.py."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.common import clean_id, clean_text, without_lone_surrogates
from bot.channels.rest import MAX_METADATA_BYTES, bounded_metadata
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
