"""Booking requests and hand-off to a person: the clinic's contact details from clinic.yml.

Until the booking form exists, a booking request gets the phone number and booking link.
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
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "human_handoff":
            opening = "Our team will be glad to help you in person."
        else:
            opening = "Great! Our staff will set up your visit and answer your questions."
        dispatcher.utter_message(text=f"{opening}\n{clinic.contact_text()}")
        return [SlotSet("booking_offered", False)]
