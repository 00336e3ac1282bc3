"""Which "/intent" payloads a patient may send.

Rasa takes any message starting with "/" as an intent payload and skips NLU, so typed text like
`/greet{"a":1} I lost control of my bladder` would bypass the red-flag check, and `/restart`,
`/session_start` or `/back` would drive internal actions. Only a safe set of plain intents, or a
payload the bot offered as a button in its last turn, is passed on as a payload; anything else loses
its leading slashes and is read as ordinary text.
"""

from __future__ import annotations

import logging
from typing import Any, List

from rasa.shared.core.events import BotUttered, UserUttered

logger = logging.getLogger(__name__)

PAYLOAD_PREFIX = "/"
# Plain intents a patient may send as payloads at any time: each means no more than typing
# "hi", "yes", "no", "book", "a person", "stop", "MORE" or "that didn't help" would (the widget
# sends "/greet" silently and "/feedback_negative" from its "Not helpful" button; SMS sends MORE
# as "/faq_more").
ALWAYS_ALLOWED = frozenset(
    {
        "/greet",
        "/affirm",
        "/deny",
        "/stop",
        "/book_appointment",
        "/human_handoff",
        "/change_booking",
        "/faq_more",
        "/feedback_negative",
    }
)


async def gate_payload(agent: Any, sender: str, text: str) -> str:
    """The text unchanged if it is an allowed payload or not a payload; else the text without
    its leading slashes, for NLU to read."""
    if not text.startswith(PAYLOAD_PREFIX) or text in ALWAYS_ALLOWED:
        return text
    if text in await offered_payloads(agent, sender):
        return text
    logger.info("A typed payload that was not offered is read as text.")
    # A bare "/" becomes "?": NLU then asks the patient to rephrase.
    return text.lstrip(PAYLOAD_PREFIX).strip() or "?"


async def offered_payloads(agent: Any, sender: str) -> List[str]:
    """Payloads of the buttons the bot sent since the patient's last message."""
    return [str(button.get("payload", "")) for button in await last_offered_buttons(agent, sender)]


async def last_offered_buttons(agent: Any, sender: str) -> List[dict]:
    """Buttons of the bot's messages in its last turn (from the tracker store, so they are found
    whichever worker or replica sent them)."""
    tracker_store = getattr(agent, "tracker_store", None)
    if tracker_store is None:
        return []
    try:
        tracker = await tracker_store.retrieve(sender)
    except Exception:
        logger.exception("Could not read the conversation to check a payload")
        return []
    buttons: List[dict] = []
    for event in reversed(tracker.events if tracker else []):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            buttons.extend(event.data.get("buttons") or [])
    return buttons
