"""Rasa's REST channel, with clear answers for bad input and failures.

Same URL (/webhooks/rest/webhook) and JSON as Rasa's `rest` channel. Differences, each because a
patient must always get an answer and never lose an emergency reply:
- missing/invalid JSON or sender: 400 with a reason (Rasa's channel raises a 500);
- text and sender lose lone surrogates and control characters before anything stores them;
- empty or whitespace-only message: a prompt to type a question, nothing stored;
- a message over MAX_MESSAGE_CHARS: still checked for red-flag phrases (the rules, off the event
  loop), then a request to shorten it;
- metadata over MAX_METADATA_BYTES is dropped (it would be stored with every event);
- a failure, no reply, or no reply within the deadline: the 911 answer if the text is an
  emergency, else an apology with the clinic's phone number (bot/channels/common.py);
- the message text is never written to the logs (it may hold health details).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.common import answer_safely, clean_id, clean_text, emergency_text
from bot.language import best_guess
from bot.messages import Messages

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128
MAX_METADATA_BYTES = 4096

TEXTS = Messages(
    "rest",
    {
        "empty": {
            "en": "Please type your question, for example: What is PRP? If this is an emergency, call 911.",
            "es": "Escriba su pregunta, por ejemplo: ¿Qué es el PRP? Si es una emergencia, llame al 911.",
        },
        "too_long": {
            "en": "Your message is a bit long for me. Please send your question in a shorter message "
            "(up to 2,000 characters). If this is an emergency, call 911.",
            "es": "Su mensaje es un poco largo para mí. Envíe su pregunta en un mensaje más corto "
            "(hasta 2000 caracteres). Si es una emergencia, llame al 911.",
        },
    },
)
# An empty message says nothing about its language: both, English first.
EMPTY_MESSAGE_REPLY = TEXTS.both("empty")
TOO_LONG_REPLY = TEXTS.en("too_long")


def _reply(sender: str, text: str) -> Dict[str, Any]:
    return {"recipient_id": sender, "text": text}


def _error(reason: str, status: int = 400) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


def bounded_metadata(value: Any) -> Optional[Dict[str, Any]]:
    """The metadata if it is a small JSON object; None otherwise (the message is still answered)."""
    if not isinstance(value, dict):
        return None
    encoded = json.dumps(value, ensure_ascii=True, default=str)
    if len(encoded) > MAX_METADATA_BYTES:
        logger.warning("Dropped %d bytes of message metadata (limit %d).", len(encoded), MAX_METADATA_BYTES)
        return None
    # Round-tripped through ASCII JSON, so no lone surrogate reaches the tracker store.
    return json.loads(clean_text(json.dumps(value, ensure_ascii=False, default=str)))


class SafeRestInput(InputChannel):
    """REST channel: POST {"sender": "...", "message": "..."} -> list of bot messages."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, on_new_message)

        return webhook

    async def _receive(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        try:
            body = request.json
        except Exception:  # sanic raises on malformed JSON
            body = None
        if not isinstance(body, dict):
            return _error("Send a JSON object with 'sender' and 'message'.")
        sender, text = body.get("sender"), body.get("message")
        sender = clean_id(sender) if isinstance(sender, str) else ""
        if not sender or len(sender) > MAX_SENDER_CHARS:
            return _error(f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} characters.")
        if text is not None and not isinstance(text, str):
            return _error("'message' must be a string.")
        text = clean_text(text or "")
        if not text:
            return response.json([_reply(sender, EMPTY_MESSAGE_REPLY)])
        agent = getattr(request.app.ctx, "agent", None)
        if len(text) > MAX_MESSAGE_CHARS:
            urgent = await emergency_text(agent, text, red_flags_only=True)
            return response.json([_reply(sender, urgent or TEXTS("too_long", best_guess(text)))])

        answer = await answer_safely(
            on_new_message,
            agent,
            text,
            sender,
            CollectingOutputChannel(),
            input_channel=self.name(),
            metadata=bounded_metadata(body.get("metadata")),
        )
        if answer.failed:
            # 503 tells API clients the normal path failed; the body still carries the answer
            # (the widget shows it), so the patient is never left without one.
            return response.json([_reply(sender, message["text"]) for message in answer.messages], status=503)
        return response.json(answer.messages)
