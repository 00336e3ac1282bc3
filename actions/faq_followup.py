"""After some FAQ answers: clinic details from clinic.yml and an offer to book a visit."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.parse_data import faq_topic
from bot.clinic import load_clinic_settings

# Topics after which a patient is likely ready to talk to the clinic.
OFFER_BOOKING_AFTER = {
    "relief_treatment",
    "candidacy",
    "cost_insurance",
    "clinic_location",
    "recovery_downtime",
    "questions_for_doctor",
}
BOOKING_BUTTONS = [
    {"title": "Yes, book a visit", "payload": "/book_appointment"},
    {"title": "No, thanks", "payload": "/deny"},
]


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
        if topic == "clinic_location":
            dispatcher.utter_message(text=clinic.contact_text())
        if topic == "cost_insurance":
            dispatcher.utter_message(
                text=f"Our staff can answer cost and insurance questions at {clinic.phone}."
            )
        dispatcher.utter_message(
            text="Would you like to request a visit to talk it over with a clinician?",
            buttons=BOOKING_BUTTONS,
        )
        return [SlotSet("booking_offered", True)]
