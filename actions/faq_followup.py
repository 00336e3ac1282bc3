"""After some FAQ answers: clinic details from clinic.yml and an offer to book a visit."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.parse_data import faq_topic
from bot.clinic import load_clinic_settings
from bot.messages import Messages, tracker_language
from bot.topics import OFFER_BOOKING_AFTER

TEXTS = Messages(
    "faq_followup",
    {
        "cost_questions": {
            "en": "Our staff can answer cost and insurance questions at {phone}.",
            "es": "Nuestro personal puede responder sus preguntas sobre costos y seguro médico al {phone}.",
        },
        "offer_visit": {
            "en": "Would you like to request a visit to talk it over with a clinician?",
            "es": "¿Le gustaría solicitar una visita para hablarlo con un profesional de la clínica?",
        },
        "yes_book": {"en": "Yes, book a visit", "es": "Sí, pedir una cita"},
        "no_thanks": {"en": "No, thanks", "es": "No, gracias"},
    },
)
BOOKING_PAYLOADS = {"yes_book": "/book_appointment", "no_thanks": "/deny"}


def booking_buttons(language: str = "en") -> List[Dict[str, str]]:
    return [{"title": TEXTS(key, language), "payload": payload} for key, payload in BOOKING_PAYLOADS.items()]


BOOKING_BUTTONS = booking_buttons()


class ActionFaqFollowup(Action):
    def name(self) -> str:
        return "action_faq_followup"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[Dict[str, Any]]:
        topic = faq_topic(tracker.latest_message)
        if topic not in OFFER_BOOKING_AFTER:
            return [SlotSet("booking_offered", False)]
        clinic = load_clinic_settings()
        language = tracker_language(tracker)
        if topic == "clinic_location":
            dispatcher.utter_message(text=clinic.contact_text(language))
        if topic == "cost_insurance":
            dispatcher.utter_message(text=TEXTS("cost_questions", language, phone=clinic.phone))
        dispatcher.utter_message(text=TEXTS("offer_visit", language), buttons=booking_buttons(language))
        return [SlotSet("booking_offered", True)]
