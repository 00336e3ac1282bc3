"""The number a patient is texting from, unsealed from the message metadata (bot/channels/twilio.py)."""

from __future__ import annotations

from typing import Optional

from rasa_sdk import Tracker

from bot.sender_identity import SEALED_PHONE_KEY, SenderIdentity


def texting_phone(tracker: Tracker) -> Optional[str]:
    """E.164 number of the SMS/WhatsApp sender of the latest message; None on the web."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            sealed = (event.get("metadata") or {}).get(SEALED_PHONE_KEY)
            identity = SenderIdentity.from_env()
            return identity.unseal(sealed) if sealed and identity else None
    return None
