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
- buttons become "Reply 1 for ..., 2 for ..." ("Responda 1 para ..." in Spanish); a reply "1" or
  the option's title sends its payload;
- STOP (and the other carrier keywords) silences the bot for that number until START; HELP (or
  AYUDA, answered in Spanish) gives the clinic's name and phone;
- replies are in the conversation's language (the `language` slot, read from the tracker store),
  and each SMS part stays within that language's segment budget (bot/channels/texting.py);
- the conversation id is an HMAC of the number, and the number never reaches the logs.

Opt-out keywords: Twilio's own handling on long codes acts on the single-word English keywords
STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE and OPTOUT, and START, UNSTOP and YES opt back
in ("Customize users' opt-in and opt-out experience with Advanced Opt-Out",
https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out, and Twilio's help article
"Twilio support for opt-out keywords (SMS STOP filtering)"). It handles no Spanish keyword by
default: Spanish ones exist only if the clinic adds them with Advanced Opt-Out. So the channel
opts out on exactly Twilio's default set, keeping its own list and Twilio's block list in step; a
Spanish "PARAR" or "BAJA" is answered with how to stop (reply STOP), not taken as an opt-out that
Twilio would not record.
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

from bot.channels.common import answer_safely, emergency_text, guess_language
from bot.channels.texting import (
    SMS_MAX_CHARS,
    WHATSAPP_MAX_CHARS,
    Option,
    match_option,
    options_from_buttons,
    render,
    split_message,
    split_sms,
)
from bot.channels.texting_state import TextingState
from bot.channels.twilio_form import FormError, inbound_message, signature_is_valid, signed_parameters
from bot.clinic import clinic_settings_or_none
from bot.language import DEFAULT_LANGUAGE
from bot.messages import LANGUAGE_SLOT, Messages, reply_language
from bot.sender_identity import PHONE_HINT_KEY, SEALED_PHONE_KEY, SenderIdentity
from bot.text_normal import normalise

logger = logging.getLogger(__name__)

# Carrier opt-out / opt-in keywords: exactly the set Twilio's own opt-out handling acts on by
# default (English only; see the module docstring for the source).
STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"}
START_WORDS = {"start", "unstop"}
# HELP keywords, by the language of the answer (compared without case or accents: "AYUDA", "ayuda").
HELP_WORDS = {"help": "en", "info": "en", "ayuda": "es"}
# Spanish ways of saying stop that Twilio does not act on: answered with how to stop.
SPANISH_STOP_WORDS = {"parar", "pare", "baja", "darme de baja", "detener", "alto", "no mas mensajes"}
# MORE / MÁS after a shortened SMS answer (compared without accents: "más" == "mas").
MORE_WORDS = {
    "more", "more details", "more info",
    "mas", "mas info", "mas informacion", "mas detalles", "quiero mas", "mas por favor",
}  # fmt: skip
# Longer than any option title we send (the longest, a topic title in bot/topics.yml, has 28).
MAX_OPTION_REPLY_CHARS = 40
# Sent for MORE: the `faq_more` intent, answered with the full (web) text of the last FAQ.
MORE_PAYLOAD = "/faq_more"

MAX_REQUEST_BYTES = 64 * 1024
MAX_BODY_CHARS = 1600  # Twilio's own limit for one inbound message
# Twilio gives up after 15 s and retries; answer (with an apology if need be) before that.
REPLY_DEADLINE_SECONDS = 11.0

TEXTS = Messages(
    "twilio",
    {
        # A media-only message (a photo, a voice note) may come from someone in trouble.
        "empty": {
            "en": "I can only read text messages. Please text your question, for example: What is PRP? "
            "If this is an emergency, call 911.",
            "es": "Solo puedo leer mensajes de texto. Escriba su pregunta, por ejemplo: ¿Qué es el PRP? "
            "Si es una emergencia, llame al 911.",
        },
        "too_long": {
            "en": "Your message is a bit long for me. Please send your question in a shorter message. "
            "If this is an emergency, call 911.",
            "es": "Su mensaje es un poco largo para mí. Envíe su pregunta en un mensaje más corto. "
            "Si es una emergencia, llame al 911.",
        },
        # The keywords stay in English: they are the ones Twilio acts on.
        "resubscribed": {
            "en": "You will get replies from the clinic assistant again. Reply STOP to stop, HELP for help.",
            "es": "Volverá a recibir respuestas del asistente de la clínica. Responda STOP para dejar de "
            "recibirlas o AYUDA para obtener ayuda.",
        },
        # SMS: Twilio's opt-out handling confirms STOP itself; WhatsApp has none, so we confirm once.
        "whatsapp_stopped": {
            "en": "You will get no more messages from the clinic assistant. Reply START to chat again.",
            "es": "No recibirá más mensajes del asistente de la clínica. Responda START para volver a "
            "conversar.",
        },
        "how_to_stop": {
            "en": "To stop getting messages from the clinic assistant, reply STOP.",
            "es": "Para dejar de recibir mensajes del asistente de la clínica, responda STOP.",
        },
        "help": {
            "en": "{contact} I answer questions about facet joint pain and treatments. For an emergency "
            "call 911. Reply STOP to stop.",
            "es": "{contact} Respondo preguntas sobre el dolor de las articulaciones facetarias y sus "
            "tratamientos. En una emergencia, llame al 911. Responda STOP para dejar de recibir mensajes.",
        },
        "help_contact": {"en": "{name}: call {phone}.", "es": "{name}: llame al {phone}."},
        "help_no_contact": {"en": "Please call the clinic.", "es": "Llame a la clínica."},
    },
)
EMPTY_MESSAGE_REPLY = TEXTS.en("empty")
TOO_LONG_REPLY = TEXTS.en("too_long")
RESUBSCRIBED_REPLY = TEXTS.en("resubscribed")
WHATSAPP_STOPPED_REPLY = TEXTS.en("whatsapp_stopped")


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
        agent = getattr(request.app.ctx, "agent", None)
        replies = await self._answer_keywords(agent, conversation_id, text)
        if replies is not None:
            return self._twiml(replies)
        if not text:
            language = await self._conversation_language(agent, conversation_id)
            return self._twiml([TEXTS("empty", language)])
        if len(text) > MAX_BODY_CHARS:
            urgent = await emergency_text(agent, text, red_flags_only=True)
            if urgent:
                return self._twiml(self._split(urgent, None))
            language = await guess_language(text)
            return self._twiml(self._split(TEXTS("too_long", language), language))

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
        if answer.failed:
            # An apology or a 911 answer in the message's language (bot/channels/common.py), which
            # may be English and Spanish together: no options, sized by the larger budget.
            return self._twiml(self._render(answer.messages, await guess_language(text), budget=None))
        # Read after the turn: the patient may just have switched languages.
        language = await self._conversation_language(agent, conversation_id)
        return self._twiml(self._render(answer.messages, language, budget=language))

    def _public_url(self, request: Request) -> str:
        """The URL Twilio signed: the configured public base (behind a proxy) + path and query."""
        if not self.settings.public_base_url:
            return request.url
        query = f"?{request.query_string}" if request.query_string else ""
        return f"{self.settings.public_base_url}{request.path}{query}"

    async def _answer_keywords(self, agent: Any, conversation_id: str, text: str) -> Optional[List[str]]:
        """Replies for HELP/AYUDA/STOP/START and for an opted-out number (none); None for anything else."""
        keyword = normalise(text)
        if keyword in HELP_WORDS:
            return self._split(help_text(HELP_WORDS[keyword]), HELP_WORDS[keyword])
        if keyword in STOP_WORDS:
            await asyncio.to_thread(self.state.opt_out, conversation_id)
            if self.channel_name != "whatsapp":
                return []
            language = await self._conversation_language(agent, conversation_id)
            return [TEXTS("whatsapp_stopped", language)]
        opted_out = await asyncio.to_thread(self.state.is_opted_out, conversation_id)
        # "YES" also opts back in (a carrier keyword), but only when it cannot be an answer.
        if keyword in START_WORDS or (opted_out and keyword == "yes"):
            await asyncio.to_thread(self.state.opt_in, conversation_id)
            language = await self._conversation_language(agent, conversation_id)
            return self._split(TEXTS("resubscribed", language), language)
        if opted_out:
            return []
        if keyword in SPANISH_STOP_WORDS:
            return [TEXTS("how_to_stop", "es")]
        return None

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
    async def _conversation_language(agent: Any, conversation_id: str) -> str:
        """The conversation's reply language (its `language` slot in the tracker store); English
        for a new conversation or when the store cannot be read."""
        if agent is None or getattr(agent, "tracker_store", None) is None:
            return DEFAULT_LANGUAGE
        try:
            tracker = await agent.tracker_store.retrieve(conversation_id)
        except Exception:
            logger.exception("Could not read the conversation's language")
            return DEFAULT_LANGUAGE
        slot = tracker.slots.get(LANGUAGE_SLOT) if tracker is not None else None
        return reply_language(slot.value if slot is not None else None)

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

    def _render(self, messages: List[Dict[str, Any]], language: str, budget: Optional[str]) -> List[str]:
        """Messages as texts, options worded in `language`; SMS parts within the segment budget of
        the language `budget` (None: the larger one)."""
        bodies: List[str] = []
        for message in messages:
            text = render(
                message.get("text") or "",
                options_from_buttons(message.get("buttons")),
                self.bold_marker,
                language,
            )
            bodies.extend(self._split(text, budget))
        return bodies

    def _split(self, text: str, language: Optional[str]) -> List[str]:
        """SMS: parts within the language's segment budget (the larger one when the language is
        unknown, e.g. a 911 answer in both languages); WhatsApp: parts of its character limit."""
        if self.channel_name == "sms":
            return split_sms(text, language)
        return split_message(text, self.max_chars)

    @staticmethod
    def _twiml(bodies: List[str]) -> HTTPResponse:
        twiml = MessagingResponse()
        for body in bodies:
            twiml.message(body)
        return response.text(str(twiml), content_type="application/xml")


def help_text(language: str = "en") -> str:
    clinic = clinic_settings_or_none()
    if clinic:
        contact = TEXTS("help_contact", language, name=clinic.name, phone=clinic.phone)
    else:
        contact = TEXTS("help_no_contact", language)
    return TEXTS("help", language, contact=contact)


class SmsInput(TwilioTextingInput):
    channel_name = "sms"
    max_chars = SMS_MAX_CHARS


class WhatsAppInput(TwilioTextingInput):
    channel_name = "whatsapp"
    max_chars = WHATSAPP_MAX_CHARS
    bold_marker = "*"
