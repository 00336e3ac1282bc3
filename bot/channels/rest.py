"""Rasa's REST channel, with clear answers for bad input and failures.

Same URL (/webhooks/rest/webhook) and JSON as Rasa's `rest` channel. Differences, each because a
patient must always get an answer and never lose an emergency reply:
- missing/invalid JSON or sender: 400 with a reason (Rasa's channel raises a 500);
- empty or whitespace-only message: a prompt to type a question, nothing stored;
- a message over MAX_MESSAGE_CHARS: still checked for red-flag phrases (the rules, not the
  classifier, which is unreliable on text that long), then a request to shorten it;
- a failure while handling (tracker store down, ...): the 911 answer if the text is an emergency,
  else an apology with the clinic's phone number, as HTTP 503;
- no reply at all (the action server is down): the clinic's phone number;
- the message text is never written to the logs (it may hold health details).
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    UserMessage,
)
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.common import clean_text, emergency_text, trouble_text

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128

EMPTY_MESSAGE_REPLY = "Please type your question, for example: What is PRP?"
TOO_LONG_REPLY = (
    "Your message is a bit long for me. Please send your question in a shorter message "
    f"(up to {MAX_MESSAGE_CHARS:,} characters)."
)


def _reply(sender: str, text: str) -> Dict[str, Any]:
    return {"recipient_id": sender, "text": text}


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
            try:
                body = request.json
            except Exception:  # sanic raises on malformed JSON
                body = None
            if not isinstance(body, dict):
                return response.json(
                    {"error": "Send a JSON object with 'sender' and 'message'."},
                    status=400,
                )
            sender, text = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
                return response.json(
                    {
                        "error": f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} characters."
                    },
                    status=400,
                )
            if text is not None and not isinstance(text, str):
                return response.json({"error": "'message' must be a string."}, status=400)
            text = clean_text(text or "")
            if not text:
                return response.json([_reply(sender, EMPTY_MESSAGE_REPLY)])
            agent = getattr(request.app.ctx, "agent", None)
            if len(text) > MAX_MESSAGE_CHARS:
                urgent = await emergency_text(agent, text, red_flags_only=True)
                return response.json([_reply(sender, urgent or TOO_LONG_REPLY)])

            collector = CollectingOutputChannel()
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
            try:
                await on_new_message(
                    UserMessage(
                        text,
                        collector,
                        sender,
                        input_channel=self.name(),
                        metadata=metadata,
                    )
                )
            except Exception:
                logger.exception(
                    "Handling a REST message failed (sender hash %s).",
                    hash(sender) & 0xFFFF,
                )
                urgent = await emergency_text(agent, text)
                return response.json([_reply(sender, urgent or trouble_text())], status=503)
            if not collector.messages:
                logger.warning("No reply was produced; is the action server up?")
                return response.json([_reply(sender, trouble_text())])
            return response.json(collector.messages)

        return webhook
