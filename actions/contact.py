"""Hand-off to a person: the clinic's contact details from clinic.yml.

Booking requests go to the booking form (actions/booking.py); only "talk to a person" comes here.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.clinic import load_clinic_settings
from bot.messages import Messages, tracker_language

TEXTS = Messages(
    "contact",
    {
        "in_person": {
            "en": "Our team will be glad to help you in person.\n{contact}",
            "es": "Nuestro equipo con gusto le atenderá en persona.\n{contact}",
        },
    },
)


class ActionShareContact(Action):
    def name(self) -> str:
        return "action_share_contact"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[Dict[str, Any]]:
        language = tracker_language(tracker)
        contact = load_clinic_settings().contact_text(language)
        dispatcher.utter_message(text=TEXTS("in_person", language, contact=contact))
        return [SlotSet("booking_offered", False)]
