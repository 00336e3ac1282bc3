"""Bot messages as text messages: numbered options for buttons, SMS-sized parts, WhatsApp bold.

Pure functions, shared by the SMS and WhatsApp channels and by the test that checks every response.
Limits (Twilio): an SMS segment holds 160 GSM-7 characters (153 when concatenated), only 70 if any
character is outside GSM-7 (emoji, smart quotes, most accents), so we keep each SMS answer within
two GSM-7 segments; WhatsApp takes up to 1,600 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

from bot.text_normal import normalise

SMS_MAX_CHARS = 320
WHATSAPP_MAX_CHARS = 1600

# Typography with a plain twin in GSM-7: swapping it keeps an answer in 160-character segments.
# Accented letters are left alone (a patient's "¿Dónde?" must come back unchanged).
PLAIN_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
        "\u2026": "...", "\u2022": "-", "\u00a0": " ",
    }
)  # fmt: skip
MARKDOWN_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Option:
    title: str
    payload: str


def options_from_buttons(buttons: Optional[Iterable[dict]]) -> List[Option]:
    return [
        Option(str(button.get("title", "")), str(button.get("payload", "")))
        for button in buttons or []
        if button.get("title") and button.get("payload")
    ]


def gsm7_length(text: str) -> Optional[int]:
    """Septets the text takes in GSM-7 (extension characters count twice), None if it cannot be."""
    try:
        return len(text.encode("gsm03.38"))
    except UnicodeEncodeError:
        return None


def numbered_options(options: Sequence[Option]) -> str:
    """ "Reply 1 for Yes, 2 for No." (payloads stay hidden; the reply is mapped back by match_option)."""
    if not options:
        return ""
    choices = ", ".join(f"{number} for {option.title}" for number, option in enumerate(options, 1))
    return f"Reply {choices}."


def render(text: str, options: Sequence[Option], bold: str = "") -> str:
    """One bot message as plain text: markdown bold becomes `bold` markers ("" for SMS, "*" for WhatsApp)."""
    body = MARKDOWN_BOLD.sub(lambda match: f"{bold}{match.group(1)}{bold}", text or "")
    body = body.translate(PLAIN_TYPOGRAPHY).strip()
    menu = numbered_options(options)
    return f"{body}\n{menu}".strip() if menu else body


def split_message(text: str, limit: int) -> List[str]:
    """Parts of at most `limit` characters, cut between sentences (or words, for a very long one)."""
    if len(text) <= limit:
        return [text] if text else []
    parts: List[str] = []
    current = ""
    for sentence in _pieces(text, limit):
        candidate = f"{current} {sentence}".strip() if current else sentence
        if len(candidate) <= limit:
            current = candidate
        else:
            parts.append(current)
            current = sentence
    if current:
        parts.append(current)
    return parts


def _pieces(text: str, limit: int) -> Iterable[str]:
    for sentence in SENTENCE_END.split(text):
        sentence = sentence.strip()
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit + 1)
            cut = cut if cut > 0 else limit
            yield sentence[:cut].strip()
            sentence = sentence[cut:].strip()
        if sentence:
            yield sentence


def match_option(reply: str, options: Sequence[Option]) -> Optional[str]:
    """The payload a reply picks: its number ("2", "2.", "#2") or the option's title ("yes")."""
    if not options:
        return None
    number = re.fullmatch(r"\s*#?\s*(\d{1,2})\s*[.)]?\s*", reply)
    if number:
        index = int(number.group(1)) - 1
        return options[index].payload if 0 <= index < len(options) else None
    wanted = normalise(reply)
    for option in options:
        if wanted and wanted == normalise(option.title):
            return option.payload
    return None
