"""SMS and WhatsApp through Twilio: /webhooks/sms/webhook and /webhooks/whatsapp/webhook.

Replaces Rasa's `twilio` channel, which trusts any caller, crashes on a missing Body, shows button
payloads, mangles "¡" and sends replies with a blocking call (rasa-3.6-field-notes.md). Here:
- every request must carry a valid X-Twilio-Signature for the public URL Twilio called and every
  form parameter, blank ones included (403 if not; bot/channels/twilio_form.py);
- MessageSid and From must look like Twilio's, the text loses control characters and lone
  surrogates, before any store, log or conversation id sees them (400 for a malformed id);
- typed "/intent" payloads are gated like on every channel (bot/channels/common.py, answer_safely);
- a MessageSid is handled once, so Twilio's retries never produce a second reply;
- the answer goes back as TwiML in the webhook's own response, well within Twilio's 15 seconds;
- buttons become "Reply 1 for ..., 2 for ..."; a reply "1" or the option's title sends its payload;
- STOP (and the other carrier keywords) silences the bot for that number until START; HELP answers
  with the clinic's name and phone;
- the conversation id is an HMAC of the number, and the number never reaches the logs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.channels.common import answer_safely, emergency_text
from bot.channels.texting import (
    SMS_MAX_CHARS,
    WHATSAPP_MAX_CHARS,
    Option,
    match_option,
    options_from_buttons,
    render,
    split_message,
)
from bot.channels.texting_state import TextingState
from bot.channels.twilio_form import FormError, inbound_message, signature_is_valid, signed_parameters
from bot.clinic import clinic_settings_or_none
from bot.sender_identity import PHONE_HINT_KEY, SEALED_PHONE_KEY, SenderIdentity
from bot.text_normal import normalise

logger = logging.getLogger(__name__)

# Carrier opt-out / opt-in / help keywords (CTIA; the same set Twilio's own opt-out handling uses).
STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"}
START_WORDS = {"start", "unstop"}
HELP_WORDS = {"help", "info"}
MORE_WORDS = {"more", "more details", "more info"}
# Longer than any option title we send (the longest, a topic title in bot/topics.yml, has 28).
MAX_OPTION_REPLY_CHARS = 40
# Sent for MORE: the `faq_more` intent, answered with the full (web) text of the last FAQ.
MORE_PAYLOAD = "/faq_more"

MAX_REQUEST_BYTES = 64 * 1024
MAX_BODY_CHARS = 1600  # Twilio's own limit for one inbound message
# Twilio gives up after 15 s and retries; answer (with an apology if need be) before that.
REPLY_DEADLINE_SECONDS = 11.0

# A media-only message (a photo, a voice note) may come from someone in trouble.
EMPTY_MESSAGE_REPLY = (
    "I can only read text messages. Please text your question, for example: What is PRP? "
    "If this is an emergency, call 911."
)
TOO_LONG_REPLY = (
    "Your message is a bit long for me. Please send your question in a shorter message. "
    "If this is an emergency, call 911."
)
RESUBSCRIBED_REPLY = (
    "You will get replies from the clinic assistant again. Reply STOP to stop, HELP for help."
)
# SMS: Twilio's opt-out handling confirms STOP itself; WhatsApp has none, so we confirm once.
WHATSAPP_STOPPED_REPLY = "You will get no more messages from the clinic assistant. Reply START to chat again."


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    number: str
    public_base_url: str

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "TwilioSettings":
        values = {key: str(value or "").strip() for key, value in (credentials or {}).items()}
        return cls(
            account_sid=values.get("account_sid", ""),
            auth_token=values.get("auth_token", ""),
            number=values.get("number", ""),
            public_base_url=values.get("public_base_url", "").rstrip("/"),
        )


class _TextingOutput(CollectingOutputChannel):
    """Collects the replies; its name picks the channel's response variants (channel: sms)."""

    channel_name = "collector"

    @classmethod
    def name(cls) -> str:
        return cls.channel_name


class TwilioTextingInput(InputChannel):
    channel_name = ""
    max_chars = SMS_MAX_CHARS
    bold_marker = ""

    def __init__(
        self,
        settings: TwilioSettings,
        identity: Optional[SenderIdentity],
        state: Optional[TextingState] = None,
    ) -> None:
        self.settings = settings
        self.identity = identity
        self._state = state
        self._validator = RequestValidator(settings.auth_token) if settings.auth_token else None
        self._output = type(
            f"{type(self).__name__}Output", (_TextingOutput,), {"channel_name": self.channel_name}
        )

    @classmethod
    def name(cls) -> str:
        return cls.channel_name

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "TwilioTextingInput":
        settings = TwilioSettings.from_credentials(credentials)
        channel = cls(settings, SenderIdentity.from_env())
        if channel.missing_settings():
            # The bot still starts (the web chat needs no Twilio account); this channel answers 503.
            logger.info(
                "The %s channel is off: %s not set.", cls.channel_name, ", ".join(channel.missing_settings())
            )
        return channel

    def missing_settings(self) -> List[str]:
        missing = [name for name in ("auth_token", "number") if not getattr(self.settings, name)]
        if self.identity is None:
            missing.append("SENDER_ID_SECRET")
        return missing

    @property
    def state(self) -> TextingState:
        if self._state is None:  # opened on first use so a bot without Twilio never touches it
            self._state = TextingState.from_url()
        return self._state

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"texting_webhook_{self.channel_name}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "not configured" if self.missing_settings() else "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, on_new_message)

        return webhook

    async def _receive(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        if self.missing_settings():
            return response.text(f"The {self.channel_name} channel is not configured.", status=503)
        if len(request.body or b"") > MAX_REQUEST_BYTES:
            return response.text("Request too large.", status=413)
        try:
            params = signed_parameters(request)
        except FormError as error:
            return response.text(error.reason, status=error.status)
        assert self._validator is not None  # missing_settings() checked the auth token
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature_is_valid(self._validator, self._public_url(request), params, signature):
            return response.text("Invalid or missing X-Twilio-Signature.", status=403)
        try:
            inbound = inbound_message(params)
        except FormError as error:
            return response.text(error.reason, status=error.status)
        if inbound.whatsapp != (self.channel_name == "whatsapp"):
            return response.text(f"This webhook is for {self.channel_name} messages.", status=400)
        if not await asyncio.to_thread(self.state.claim_message, inbound.message_sid):
            logger.info("Twilio retried message %s; it was already answered.", inbound.message_sid)
            return self._twiml([])

        phone = inbound.address
        assert self.identity is not None  # missing_settings() checked it
        conversation_id = self.identity.conversation_id(self.channel_name, phone)
        text = inbound.body
        replies = await self._answer_keywords(conversation_id, text)
        if replies is not None:
            return self._twiml(replies)
        agent = getattr(request.app.ctx, "agent", None)
        if not text:
            return self._twiml([EMPTY_MESSAGE_REPLY])
        if len(text) > MAX_BODY_CHARS:
            urgent = await emergency_text(agent, text, red_flags_only=True)
            return self._twiml([urgent or TOO_LONG_REPLY])

        text = await self._expand_reply(agent, conversation_id, text)
        metadata = {SEALED_PHONE_KEY: self.identity.seal(phone), PHONE_HINT_KEY: phone[-4:]}
        # The shared path (bot/channels/common.py): typed "/intent" payloads gated, a deadline
        # within Twilio's 15 s, and the 911 answer or an apology whatever fails.
        answer = await answer_safely(
            on_new_message,
            agent,
            text,
            conversation_id,
            self._output(),
            self.channel_name,
            metadata=metadata,
            message_id=inbound.message_sid,
            deadline=REPLY_DEADLINE_SECONDS,
        )
        return self._twiml(self._render(answer.messages))

    def _public_url(self, request: Request) -> str:
        """The URL Twilio signed: the configured public base (behind a proxy) + path and query."""
        if not self.settings.public_base_url:
            return request.url
        query = f"?{request.query_string}" if request.query_string else ""
        return f"{self.settings.public_base_url}{request.path}{query}"

    async def _answer_keywords(self, conversation_id: str, text: str) -> Optional[List[str]]:
        """Replies for HELP/STOP/START and for an opted-out number (none); None for anything else."""
        keyword = normalise(text)
        if keyword in HELP_WORDS:
            return [help_text()]
        if keyword in STOP_WORDS:
            await asyncio.to_thread(self.state.opt_out, conversation_id)
            return [WHATSAPP_STOPPED_REPLY] if self.channel_name == "whatsapp" else []
        opted_out = await asyncio.to_thread(self.state.is_opted_out, conversation_id)
        # "YES" also opts back in (a carrier keyword), but only when it cannot be an answer.
        if keyword in START_WORDS or (opted_out and keyword == "yes"):
            await asyncio.to_thread(self.state.opt_in, conversation_id)
            return [RESUBSCRIBED_REPLY]
        return [] if opted_out else None

    async def _expand_reply(self, agent: Any, conversation_id: str, text: str) -> str:
        """A numbered or titled answer to the last options becomes that option's payload; MORE asks
        for the full text of the last answer."""
        # Only a short reply can pick an option; a question skips the extra tracker read.
        if len(text) <= MAX_OPTION_REPLY_CHARS:
            payload = match_option(text, await self._last_options(agent, conversation_id))
            if payload:
                return payload
        return MORE_PAYLOAD if normalise(text) in MORE_WORDS else text

    @staticmethod
    async def _last_options(agent: Any, conversation_id: str) -> Sequence[Option]:
        """Buttons of the bot's last message with buttons in its last turn (from the tracker store,
        so they are found whichever worker sent them)."""
        if agent is None or agent.tracker_store is None:
            return []
        try:
            tracker = await agent.tracker_store.retrieve(conversation_id)
        except Exception:
            logger.exception("Could not read the conversation to match a numbered reply")
            return []
        for event in reversed(tracker.events if tracker else []):
            if isinstance(event, UserUttered):
                break
            if isinstance(event, BotUttered) and event.data.get("buttons"):
                return options_from_buttons(event.data["buttons"])
        return []

    def _render(self, messages: List[Dict[str, Any]]) -> List[str]:
        bodies: List[str] = []
        for message in messages:
            text = render(
                message.get("text") or "", options_from_buttons(message.get("buttons")), self.bold_marker
            )
            bodies.extend(split_message(text, self.max_chars))
        return bodies

    @staticmethod
    def _twiml(bodies: List[str]) -> HTTPResponse:
        twiml = MessagingResponse()
        for body in bodies:
            twiml.message(body)
        return response.text(str(twiml), content_type="application/xml")


def help_text() -> str:
    clinic = clinic_settings_or_none()
    contact = f"{clinic.name}: call {clinic.phone}." if clinic else "Please call the clinic."
    return f"{contact} I answer questions about facet joint pain and treatments. For an emergency call 911. Reply STOP to stop."


class SmsInput(TwilioTextingInput):
    channel_name = "sms"
    max_chars = SMS_MAX_CHARS


class WhatsAppInput(TwilioTextingInput):
    channel_name = "whatsapp"
    max_chars = WHATSAPP_MAX_CHARS
    bold_marker = "*"
