"""The emergency turn is the same in every state (bot/emergency_policy.py)."""

from __future__ import annotations

from rasa.shared.core.constants import ACTION_DEACTIVATE_LOOP_NAME, ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.emergency_policy import next_emergency_action


def user(intent: str, text: str = "text") -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": 1.0})


MID_FORM = [
    ActionExecuted(ACTION_LISTEN_NAME),
    user("book_appointment"),
    ActionExecuted("booking_form"),
    ActiveLoop("booking_form"),
    BotUttered("What is your full name?"),
    ActionExecuted(ACTION_LISTEN_NAME),
]


def steps(events) -> list:
    """Runs the policy's choices to the end of the turn, as the processor would."""
    tracker = DialogueStateTracker.from_events("p", events)
    taken = []
    while (action := next_emergency_action(tracker)) is not None:
        taken.append(action)
        tracker.update(ActionExecuted(action))
        if action == ACTION_DEACTIVATE_LOOP_NAME:
            tracker.update(ActiveLoop(None))
        assert len(taken) < 5
    return taken


def test_mid_form_the_emergency_is_answered_and_the_form_closed():
    assert steps([*MID_FORM, user("emergency", "I wet myself and can't feel my legs")]) == [
        "utter_emergency",
        ACTION_DEACTIVATE_LOOP_NAME,
        ACTION_LISTEN_NAME,
    ]


def test_outside_a_form_the_emergency_is_answered_then_the_bot_listens():
    assert steps([ActionExecuted(ACTION_LISTEN_NAME), user("emergency")]) == [
        "utter_emergency",
        ACTION_LISTEN_NAME,
    ]


def test_other_intents_are_left_to_the_other_policies():
    assert steps([*MID_FORM, user("faq")]) == []
    assert steps([ActionExecuted(ACTION_LISTEN_NAME), user("greet")]) == []


def test_after_a_failed_action_in_the_turn_the_emergency_still_comes_first():
    # e.g. a custom action ran and failed before (its events lost); the answer is still given.
    events = [*MID_FORM, user("emergency"), ActionExecuted("booking_form")]
    assert steps(events) == ["utter_emergency", ACTION_DEACTIVATE_LOOP_NAME, ACTION_LISTEN_NAME]
