"""Hand-off to a person: the clinic's contact details from clinic.yml.

Booking requests go to the booking form (actions/booking.py); only "talk to a person" comes here.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.clinic import load_clinic_settings


class ActionShareContact(Action):
    def name(self) -> str:
        return "action_share_contact"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[Dict[str, Any]]:
        clinic = load_clinic_settings()
        dispatcher.utter_message(
            text=f"Our team will be glad to help you in person.\n{clinic.contact_text()}"
        )
        return [SlotSet("booking_offered", False)]
