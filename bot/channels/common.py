"""What every channel does the same way: clean input, answer emergencies and failures."""

from __future__ import annotations

import logging
import re
from typing import Any, Optional

from bot.clinic import load_clinic_settings
from bot.nlu.red_flags import RED_FLAGS_KEY

logger = logging.getLogger(__name__)

# Control characters (but tab and newline) break some stores (PostgreSQL rejects NUL) and mean nothing.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str) -> str:
    return CONTROL_CHARS.sub("", text).strip()


def trouble_text() -> str:
    """The apology sent when the bot cannot answer, with the clinic's phone if it can be read."""
    try:
        phone = load_clinic_settings().phone
        return f"Sorry, I'm having technical trouble right now. Please call the clinic at {phone}, or try again in a few minutes."
    except Exception:
        logger.exception("clinic.yml could not be read")
        return "Sorry, I'm having technical trouble right now. Please call the clinic, or try again in a few minutes."


async def emergency_text(agent: Any, text: str, red_flags_only: bool = False) -> Optional[str]:
    """The 911 answer if NLU alone (no tracker store, no actions) says this is an emergency.

    Used when the normal path failed or was skipped, so a red flag is never lost. With
    red_flags_only, only the red-flag rules count, not the classifier (unreliable on huge text).
    """
    if agent is None or not agent.is_ready():
        return None
    try:
        parsed = await agent.parse_message(text)
        if red_flags_only and not parsed.get(RED_FLAGS_KEY):
            return None
        if (parsed.get("intent") or {}).get("name") != "emergency":
            return None
        return agent.domain.responses["utter_emergency"][0]["text"]
    except Exception:
        logger.exception("The emergency check failed")
        return None
