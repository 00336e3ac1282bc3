"""What every channel does the same way: clean input, answer emergencies and failures.

`answer_safely` is the one path from a channel to the dialogue engine. Whatever happens inside Rasa
(an exception, a `SystemExit` from its SQL store, a slow or dead action server, no reply at all),
the patient gets an answer, and an emergency description gets the 911 answer first.

These answers are given without the conversation (its tracker may be what failed), so their
language is the message's own (bot/language.py): the apology in the language the message is
written in (English when unsure), the 911 answer in that language, or in English and then Spanish
when the message does not say clearly which it is.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.clinic import clinic_settings_or_none
from bot.language import ENGLISH, SPANISH, language_switch
from bot.messages import LANGUAGE_SLOT, Messages, reply_language
from bot.nlu.red_flags import RED_FLAGS_KEY
from bot.recovery import ensure_recovery_hook
from bot.typed_payloads import gate_payload

logger = logging.getLogger(__name__)

# Control characters (but tab and newline) break some stores (PostgreSQL rejects NUL) and mean nothing.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# How long a channel waits for Rasa before it apologises (the action server may hang).
REPLY_DEADLINE_SECONDS = 10.0
# Enough of a message to tell its language; detection on a huge text would only cost time.
LANGUAGE_SAMPLE_CHARS = 1000
TEXTS = Messages(
    "channels",
    {
        "emergency_advice": {
            "en": "If this is an emergency, call 911.",
            "es": "Si es una emergencia, llame al 911.",
        },
        "trouble": {
            "en": "Sorry, I'm having technical trouble right now. If this is an emergency, call 911. "
            "Otherwise please {call}, or try again in a few minutes.",
            "es": "Disculpe, tengo problemas técnicos en este momento. Si es una emergencia, llame al 911. "
            "De lo contrario, {call} o intente de nuevo en unos minutos.",
        },
        "call_clinic_at": {"en": "call the clinic at {phone}", "es": "llame a la clínica al {phone}"},
        "call_clinic": {"en": "call the clinic", "es": "llame a la clínica"},
        # Said when no emergency answer can be read from the model's domain.
        "emergency": {
            "en": "If this is an emergency, call 911. Or go to the nearest emergency room now.",
            "es": "Si es una emergencia, llame al 911. O vaya ahora a la sala de emergencias más cercana.",
        },
    },
)
EMERGENCY_ADVICE = TEXTS.en("emergency_advice")


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


def trouble_text(language: Optional[str] = None) -> str:
    """The apology sent when the bot cannot answer, with the clinic's phone if it can be read."""
    clinic = clinic_settings_or_none()
    call = TEXTS("call_clinic_at", language, phone=clinic.phone) if clinic else TEXTS("call_clinic", language)
    return TEXTS("trouble", language, call=call)


def message_language(text: str) -> Optional[str]:
    """The language a message is clearly written in (or asks for), None when it does not say.
    Never raises: a failed detection is an unknown language."""
    try:
        return language_switch(text[:LANGUAGE_SAMPLE_CHARS])
    except Exception:
        logger.exception("Language detection failed")
        return None


async def guess_language(text: str) -> str:
    """The message's language for an apology: English unless it is clearly Spanish (off the event
    loop: the detector's models load on first use)."""
    return reply_language(await asyncio.to_thread(message_language, text))


def _emergency_answer(agent: Any, language: str) -> Optional[str]:
    """The domain's screen answer (no channel) to an emergency in `language`: for Spanish the
    variant with the condition language=es, for English the one without a condition."""
    try:
        variants = [v for v in agent.domain.responses["utter_emergency"] if not v.get("channel")]
    except Exception:  # no model loaded: the plain advice still comes first
        return None
    for variant in variants:
        condition = variant.get("condition") or []
        languages = [c.get("value") for c in condition if c.get("name") == LANGUAGE_SLOT]
        if (languages == [SPANISH]) if language == SPANISH else not condition:
            return variant.get("text")
    return None


def emergency_answer(agent: Any, language: Optional[str]) -> str:
    """The 911 answer in the message's language, or in English then Spanish when it is unknown."""
    if language in (ENGLISH, SPANISH):
        return _emergency_answer(agent, language) or TEXTS("emergency", language)
    english = _emergency_answer(agent, ENGLISH) or TEXTS("emergency", ENGLISH)
    spanish = _emergency_answer(agent, SPANISH) or TEXTS("emergency", SPANISH)
    return f"{english}\n\n{spanish}"


async def emergency_text(agent: Any, text: str, red_flags_only: bool = False) -> Optional[str]:
    """The 911 answer if this text describes an emergency, found without the tracker store or
    the action server (used when the normal path failed or was skipped); in the message's
    language, or in English then Spanish when the message does not say which it is.

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
        return emergency_answer(agent, await asyncio.to_thread(message_language, text))
    if red_flags_only or agent is None or not agent.is_ready():
        return None
    try:
        parsed = await agent.parse_message(text)
    except Exception:
        logger.exception("The emergency check failed")
        return None
    if parsed.get(RED_FLAGS_KEY) or (parsed.get("intent") or {}).get("name") == "emergency":
        return emergency_answer(agent, await asyncio.to_thread(message_language, text))
    return None


async def failure_text(agent: Any, text: str) -> str:
    """What a patient gets when the normal path failed: the 911 answer for an emergency, else the
    apology, each in the message's language."""
    return await emergency_text(agent, text) or trouble_text(await guess_language(text))


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
        return SafeAnswer([{"text": await failure_text(agent, text)}], failed=True)
    except Exception:
        logger.exception("Handling a %s message failed.", input_channel)
        return SafeAnswer([{"text": await failure_text(agent, text)}], failed=True)
    if not collector.messages:
        logger.warning("No reply was produced (%s channel); is the action server up?", input_channel)
        return SafeAnswer([{"text": await failure_text(agent, text)}], failed=True)
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
