"""MORE after a short (SMS) answer: the full text of the last FAQ answer."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.parse_data import faq_topic
from bot.messages import LANGUAGE_SLOT, Messages, tracker_language

# Channels whose FAQ answers are shortened (domain.yml `channel:` variants); elsewhere the full
# answer was already shown.
SHORTENED_CHANNELS = {"sms"}
TEXTS = Messages(
    "faq_more",
    {
        "nothing_to_expand": {
            "en": "Please text me your question, for example: What is PRP? If this is an emergency, call 911.",
            "es": "Escríbame su pregunta, por ejemplo: ¿Qué es el PRP? Si es una emergencia, llame al 911.",
        },
        "already_complete": {
            "en": "That is all our article says on this. You can ask me another question, or request a "
            "visit to talk it over with a clinician.",
            "es": "Eso es todo lo que dice nuestro artículo sobre este tema. Puede hacerme otra pregunta "
            "o solicitar una visita para hablarlo con un profesional de la clínica.",
        },
    },
)
NOTHING_TO_EXPAND = TEXTS.en("nothing_to_expand")
ALREADY_COMPLETE = TEXTS.en("already_complete")


def last_faq_topic(tracker: Tracker) -> Optional[str]:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            topic = faq_topic(event.get("parse_data") or {})
            if topic:
                return topic
    return None


def full_answer(domain: Dict[str, Any], topic: str, language: str = "en") -> Optional[str]:
    """The answer written for screens (no channel key) in the reply language: the variant whose
    condition is the `language` slot's value, else the one without a condition (as Rasa's NLG
    picks them, rasa/core/nlg/generator.py ResponseVariationFilter)."""
    screen = [
        variant
        for variant in domain.get("responses", {}).get(f"utter_faq/{topic}", [])
        if not variant.get("channel") and variant.get("text")
    ]
    slots = {LANGUAGE_SLOT: language}
    matching = [v for v in screen if v.get("condition") and _condition_holds(v["condition"], slots)]
    plain = [v for v in screen if not v.get("condition")]
    chosen = matching or plain
    return chosen[0]["text"] if chosen else None


def _condition_holds(condition: List[Dict[str, Any]], slots: Dict[str, Any]) -> bool:
    """Rasa's slot conditions: every named slot has the value (strings compared case-blind)."""
    for constraint in condition:
        have, want = slots.get(constraint.get("name")), constraint.get("value")
        if isinstance(have, str) and isinstance(want, str):
            if have.casefold() != want.casefold():
                return False
        elif have != want:
            return False
    return True


class ActionFaqMore(Action):
    def name(self) -> str:
        return "action_faq_more"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[Dict[str, Any]]:
        language = tracker_language(tracker)
        topic = last_faq_topic(tracker)
        text = full_answer(domain, topic, language) if topic else None
        if not text:
            dispatcher.utter_message(text=TEXTS("nothing_to_expand", language))
        elif tracker.get_latest_input_channel() in SHORTENED_CHANNELS:
            dispatcher.utter_message(text=text)
        else:
            dispatcher.utter_message(text=TEXTS("already_complete", language))
        return []
