"""A Twilio webhook request read the way Twilio signed it, then the few fields we use, checked.

Twilio signs the URL plus every POST parameter it sends, blank ones included (FromCity="", the
Body="" of a photo-only MMS) and every value of a repeated name. Sanic's `request.form` drops blank
values (parse_qs without keep_blank_values) and 21.12 has no option to keep them, so the validator
saw other parameters than Twilio signed and real messages got 403. Here the body is parsed with
keep_blank_values into Sanic's RequestParameters, whose `getlist` the twilio library's
RequestValidator uses to sign every value of a name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from sanic.headers import parse_content_header
from sanic.request import Request, RequestParameters
from twilio.request_validator import RequestValidator

from bot.channels.common import clean_text

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"  # all Twilio messaging webhooks use it
# An MMS with 10 media items has about 45 fields; far more is not Twilio.
MAX_FIELDS = 200
# Twilio's ids are "SM"/"MM" + 32 hex digits; 64 is the texting_handled_messages column.
MESSAGE_SID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# "+13055550123", "whatsapp:+13055550123" (or a short code). Other characters, a control character
# or a lone surrogate never become part of a conversation id: such a sender is refused.
SENDER = re.compile(r"(?P<whatsapp>whatsapp:)?(?P<address>\+?[A-Za-z0-9._-]{2,32})")
# The fields we read must come once: with two, which one Twilio meant is unknown.
SINGLE_FIELDS = ("MessageSid", "From", "Body")


class FormError(ValueError):
    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class InboundMessage:
    message_sid: str
    whatsapp: bool
    address: str  # the sender's number without the "whatsapp:" prefix
    body: str  # cleaned: no control characters, lone surrogates replaced


def signed_parameters(request: Request) -> RequestParameters:
    """Every parameter of the form body, blank values and repeated names included."""
    content_type, _ = parse_content_header(request.headers.get("content-type", ""))
    if content_type != FORM_CONTENT_TYPE:
        raise FormError(f"Expected {FORM_CONTENT_TYPE}.", status=415)
    # Invalid UTF-8 (raw or percent-encoded, such as an encoded lone surrogate) becomes U+FFFD: such
    # a request was not signed by Twilio and fails the signature check instead of raising.
    text = (request.body or b"").decode("utf-8", "replace")
    try:
        return RequestParameters(
            parse_qs(text, keep_blank_values=True, errors="replace", max_num_fields=MAX_FIELDS)
        )
    except ValueError:
        raise FormError("Too many form fields.") from None


def signature_is_valid(
    validator: RequestValidator, url: str, params: RequestParameters, signature: str
) -> bool:
    if not signature:
        return False
    try:
        return validator.validate(url, params, signature)
    except (UnicodeError, ValueError):  # a URL that cannot be encoded was not signed by Twilio
        return False


def inbound_message(params: RequestParameters) -> InboundMessage:
    """The fields the bot uses, each checked or cleaned before anything stores or logs it."""
    for name in SINGLE_FIELDS:
        if len(params.getlist(name, [])) > 1:
            raise FormError(f"{name} must be sent once.")
    message_sid, sender = params.get("MessageSid", ""), params.get("From", "")
    if not message_sid or not sender:
        raise FormError("MessageSid and From are required.")
    if not MESSAGE_SID.fullmatch(message_sid):
        raise FormError("MessageSid is not a Twilio message id.")
    match = SENDER.fullmatch(sender)
    if not match:
        raise FormError("From is not a phone number.")
    return InboundMessage(
        message_sid=message_sid,
        whatsapp=bool(match.group("whatsapp")),
        address=match.group("address"),
        body=clean_text(params.get("Body", "") or ""),
    )
