"""What every channel does the same way: clean input, answer emergencies and failures.

`answer_safely` is the one path from a channel to the dialogue engine. Whatever happens inside Rasa
(an exception, a `SystemExit` from its SQL store, a slow or dead action server, no reply at all),
the patient gets an answer, and an emergency description gets the 911 answer first.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.clinic import clinic_settings_or_none
from bot.nlu.red_flags import RED_FLAGS_KEY
from bot.recovery import ensure_recovery_hook
from bot.typed_payloads import gate_payload

logger = logging.getLogger(__name__)

# Control characters (but tab and newline) break some stores (PostgreSQL rejects NUL) and mean nothing.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# How long a channel waits for Rasa before it apologises (the action server may hang).
REPLY_DEADLINE_SECONDS = 10.0
EMERGENCY_ADVICE = "If this is an emergency, call 911."


def without_lone_surrogates(text: str) -> str:
    """Valid UTF-16 pairs become their character, lone surrogates U+FFFD.

    JSON may carry "\\udfff" escapes; such a str cannot be encoded as UTF-8, and Rasa's SQL store
    turns the resulting UnicodeEncodeError (a ValueError) into an exit of the whole server.
    """
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def clean_text(text: str) -> str:
    return CONTROL_CHARS.sub("", without_lone_surrogates(text)).strip()


def clean_id(value: str) -> str:
    """A conversation id safe for every store: no surrogates, no control characters."""
    return clean_text(value)


def trouble_text() -> str:
    """The apology sent when the bot cannot answer, with the clinic's phone if it can be read."""
    clinic = clinic_settings_or_none()
    call = f"call the clinic at {clinic.phone}" if clinic else "call the clinic"
    return (
        f"Sorry, I'm having technical trouble right now. {EMERGENCY_ADVICE} "
        f"Otherwise please {call}, or try again in a few minutes."
    )


def _emergency_answer(agent: Any) -> Optional[str]:
    try:
        return agent.domain.responses["utter_emergency"][0]["text"]
    except Exception:  # no model loaded: the plain advice still comes first
        return None


async def emergency_text(agent: Any, text: str, red_flags_only: bool = False) -> Optional[str]:
    """The 911 answer if this text describes an emergency, found without the tracker store or
    the action server (used when the normal path failed or was skipped).

    The red-flag rules run off the event loop over the whole text in bounded windows, so a huge
    message neither blocks other patients nor skips the check. Unless red_flags_only, the
    classifier is asked too (on short text only: it is unreliable and slow on long text).
    """
    from bot.nlu.red_flag_matcher import red_flags_in

    try:
        flags = await asyncio.to_thread(red_flags_in, text)
    except Exception:
        logger.exception("The red-flag check failed")
        flags = []
    if flags:
        return _emergency_answer(agent) or f"{EMERGENCY_ADVICE} Or go to the nearest emergency room now."
    if red_flags_only or agent is None or not agent.is_ready():
        return None
    try:
        parsed = await agent.parse_message(text)
    except Exception:
        logger.exception("The emergency check failed")
        return None
    if parsed.get(RED_FLAGS_KEY) or (parsed.get("intent") or {}).get("name") == "emergency":
        return _emergency_answer(agent)
    return None


@dataclass
class SafeAnswer:
    """What the channel sends back, and whether the normal path produced it."""

    messages: List[Dict[str, Any]]
    failed: bool = False


async def answer_safely(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    agent: Any,
    text: str,
    sender: str,
    collector: CollectingOutputChannel,
    input_channel: str,
    metadata: Optional[Dict[str, Any]] = None,
    message_id: Optional[str] = None,
    deadline: float = REPLY_DEADLINE_SECONDS,
) -> SafeAnswer:
    """Hands one cleaned message to Rasa and always comes back with something to send.

    Failures (including SystemExit, which Rasa's SQL store raises on some bad data), a deadline
    passed or no reply at all get the 911 answer if the text is an emergency, else the apology.
    """
    text = await gate_payload(agent, sender, text)
    ensure_recovery_hook(agent)
    message = UserMessage(
        text, collector, sender, input_channel=input_channel, metadata=metadata, message_id=message_id
    )
    # Shielded: past the deadline the turn still completes (and is stored) in the background.
    handling = asyncio.ensure_future(_turn(on_new_message, message))
    handling.add_done_callback(_log_late_failure)
    try:
        await asyncio.wait_for(asyncio.shield(handling), deadline)
    except asyncio.TimeoutError:
        logger.warning("No answer within %.0f s (%s channel); sent an apology.", deadline, input_channel)
        return SafeAnswer([{"text": await emergency_text(agent, text) or trouble_text()}], failed=True)
    except Exception:
        logger.exception("Handling a %s message failed.", input_channel)
        return SafeAnswer([{"text": await emergency_text(agent, text) or trouble_text()}], failed=True)
    if not collector.messages:
        logger.warning("No reply was produced (%s channel); is the action server up?", input_channel)
        return SafeAnswer([{"text": await emergency_text(agent, text) or trouble_text()}], failed=True)
    return SafeAnswer(collector.messages)


class RasaExitAttempt(RuntimeError):
    """Rasa called sys.exit while handling one message (rasa.shared.utils.cli.print_error_and_exit)."""


async def _turn(on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage) -> None:
    # A SystemExit must become an ordinary error inside the task: asyncio re-raises SystemExit out
    # of the event loop, which would stop the server for every patient.
    try:
        await on_new_message(message)
    except SystemExit as exit_attempt:
        raise RasaExitAttempt("Rasa tried to exit while handling a message") from exit_attempt


def _log_late_failure(task: "asyncio.Future[Any]") -> None:
    # Retrieving the exception keeps asyncio from warning "exception was never retrieved".
    if not task.cancelled() and task.exception() is not None:
        logger.debug("A turn finished with an error after its deadline.")
