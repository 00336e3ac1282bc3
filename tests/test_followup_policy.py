"""Bare follow-ups answered for the treatment under discussion (bot/followup_policy.py)."""

from __future__ import annotations

from typing import Optional

import pytest
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.followup_policy import next_followup_action


def asked(text: str, intent: str = "faq", topic: Optional[str] = None, **extra) -> UserUttered:
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.9}, **extra}
    if topic:
        parse["response_selector"] = {"faq": {"response": {"intent_response_key": f"faq/{topic}"}}}
    return UserUttered(text, parse["intent"], parse_data=parse)


def tracker_after(topic: str, follow_up: UserUttered, answered_by: str = "utter_faq") -> DialogueStateTracker:
    events = [
        ActionExecuted("action_listen"),
        asked(f"tell me about {topic}", topic=topic),
        ActionExecuted(answered_by),
        ActionExecuted("action_listen"),
        follow_up,
        ActionExecuted("action_extract_slots"),
    ]
    return DialogueStateTracker.from_events("t", events)


@pytest.mark.parametrize(
    "topic, text, intent, expected",
    [
        ("radiofrequency_ablation", "how long does it last?", "faq", "utter_faq/radiofrequency_ablation"),
        ("prp_what", "how many sessions?", "out_of_scope", "utter_faq/prp_procedure"),
        ("prp_what", "how long does it take to work?", "faq", "utter_faq/prp_timeline"),
        ("relief_treatment", "¿duele?", "out_of_scope", "utter_faq/safety_side_effects"),
        ("adrc", "cuanto tiempo dura el efecto", "faq", "utter_faq/adrc"),
        ("steroid_injection", "how soon will it work", "nlu_fallback", "utter_faq/steroid_injection"),
    ],
)
def test_a_bare_follow_up_is_answered_for_the_topic_under_discussion(topic, text, intent, expected):
    assert next_followup_action(tracker_after(topic, asked(text, intent))) == expected


@pytest.mark.parametrize(
    "topic, text, intent",
    [
        ("radiofrequency_ablation", "how long does PRP last?", "faq"),  # names a treatment
        ("clinic_location", "how long does it take?", "faq"),  # not a treatment
        ("radiofrequency_ablation", "is it safe?", "faq"),  # the safety answer covers every treatment
        ("radiofrequency_ablation", "how long until my legs stop being numb", "emergency"),
        ("prp_what", "yes", "affirm"),
    ],
)
def test_other_messages_are_left_to_the_other_policies(topic, text, intent):
    assert next_followup_action(tracker_after(topic, asked(text, intent))) is None


def test_a_possible_emergency_is_left_to_the_clarification():
    follow_up = asked("does it hurt this much after", "nlu_fallback", possible_emergency=True)
    assert next_followup_action(tracker_after("steroid_injection", follow_up)) is None


def test_the_topic_of_an_earlier_follow_up_counts_and_the_turn_ends_with_listen():
    tracker = tracker_after(
        "prp_what", asked("how many sessions?", "out_of_scope"), answered_by="utter_faq/prp_procedure"
    )
    assert next_followup_action(tracker) == "utter_faq/prp_procedure"
    tracker.update(ActionExecuted("utter_faq/prp_procedure"))
    assert next_followup_action(tracker) == "action_listen"


def test_nothing_during_a_form():
    tracker = tracker_after("prp_what", asked("how long does it take?"))
    tracker.change_loop_to("booking_form")
    assert next_followup_action(tracker) is None
