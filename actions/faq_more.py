"""MORE after a short (SMS) answer: the full text of the last FAQ answer."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.parse_data import faq_topic

# Channels whose FAQ answers are shortened (domain.yml `channel:` variants); elsewhere the full
# answer was already shown.
SHORTENED_CHANNELS = {"sms"}
NOTHING_TO_EXPAND = (
    "Please text me your question, for example: What is PRP? If this is an emergency, call 911."
)
ALREADY_COMPLETE = (
    "That is all our article says on this. You can ask me another question, or request a visit "
    "to talk it over with a clinician."
)


def last_faq_topic(tracker: Tracker) -> Optional[str]:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            topic = faq_topic(event.get("parse_data") or {})
            if topic:
                return topic
    return None


def full_answer(domain: Dict[str, Any], topic: str) -> Optional[str]:
    """The default variant of the answer: the one written for screens, with no channel key."""
    for variant in domain.get("responses", {}).get(f"utter_faq/{topic}", []):
        if not variant.get("channel") and variant.get("text"):
            return variant["text"]
    return None


class ActionFaqMore(Action):
    def name(self) -> str:
        return "action_faq_more"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[Dict[str, Any]]:
        topic = last_faq_topic(tracker)
        text = full_answer(domain, topic) if topic else None
        if not text:
            dispatcher.utter_message(text=NOTHING_TO_EXPAND)
        elif tracker.get_latest_input_channel() in SHORTENED_CHANNELS:
            dispatcher.utter_message(text=text)
        else:
            dispatcher.utter_message(text=ALREADY_COMPLETE)
        return []
