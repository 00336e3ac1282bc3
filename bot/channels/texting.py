"""Bot messages as text messages: numbered options for buttons, SMS-sized parts, WhatsApp bold.

Pure functions, shared by the SMS and WhatsApp channels and by the test that checks every response.

SMS segments (3GPP TS 23.038/23.040, as Twilio bills them): a text that is all GSM-7 fits 160
septets in one segment, 153 per segment once concatenated, and the extension characters
(€ [ ] { } | ^ ~ \\) take two septets each. One character outside GSM-7 (á í ó ú, emoji, smart
quotes) turns the whole text into UCS-2: 70 UTF-16 code units in one segment, 67 per segment
concatenated, an emoji taking two units. A character is never split between two segments.

Policy: English SMS answers stay within two GSM-7 segments (306 characters); Spanish keeps its
accents, and a Spanish answer is sized in UCS-2 segments, four at most (268 characters), whether
or not a given part happens to need UCS-2 (`fits_sms`). WhatsApp takes up to 1,600 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

from bot.messages import Messages
from bot.text_normal import normalise

GSM7_SINGLE_SEPTETS = 160
GSM7_PART_SEPTETS = 153
UCS2_SINGLE_UNITS = 70
UCS2_PART_UNITS = 67
# Segments one SMS answer (one part the channel sends) may take, by reply language.
SMS_MAX_SEGMENTS = {"en": 2, "es": 4}
SMS_MAX_CHARS = GSM7_PART_SEPTETS * SMS_MAX_SEGMENTS["en"]  # 306: two concatenated GSM-7 segments
WHATSAPP_MAX_CHARS = 1600

TEXTS = Messages(
    "texting",
    {
        # Buttons as text: "Reply 1 for Yes, 2 for No." (payloads stay hidden).
        "options": {"en": "Reply {choices}.", "es": "Responda {choices}."},
        "option": {"en": "{number} for {title}", "es": "{number} para {title}"},
    },
)

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


def is_gsm7(text: str) -> bool:
    return gsm7_length(text) is not None


def ucs2_units(text: str) -> int:
    """UTF-16 code units: one per character, two for one outside the Basic Multilingual Plane."""
    return len(text.encode("utf-16-le")) // 2


def sms_segments(text: str) -> int:
    """The number of SMS segments the text is sent (and billed) as; 0 for no text."""
    if not text:
        return 0
    septets = gsm7_length(text)
    if septets is not None:
        if septets <= GSM7_SINGLE_SEPTETS:
            return 1
        return _packed_segments((len(ch.encode("gsm03.38")) for ch in text), GSM7_PART_SEPTETS)
    if ucs2_units(text) <= UCS2_SINGLE_UNITS:
        return 1
    return _packed_segments((ucs2_units(ch) for ch in text), UCS2_PART_UNITS)


def ucs2_segments(text: str) -> int:
    """The segments the text takes sent as UCS-2 (as any text with an accent outside GSM-7 is)."""
    if not text:
        return 0
    if ucs2_units(text) <= UCS2_SINGLE_UNITS:
        return 1
    return _packed_segments((ucs2_units(ch) for ch in text), UCS2_PART_UNITS)


def fits_sms(text: str, language: Optional[str]) -> bool:
    """Whether one SMS part is within the language's budget: English two segments as sent (GSM-7
    when it can be), Spanish four UCS-2 segments. An unknown language gets the Spanish budget
    (e.g. a 911 answer in both languages)."""
    if language == "en":
        return sms_segments(text) <= SMS_MAX_SEGMENTS["en"]
    return ucs2_segments(text) <= SMS_MAX_SEGMENTS["es"]


def _packed_segments(sizes: Iterable[int], capacity: int) -> int:
    """Segments of `capacity` filled in order, a character never split (an escape or a surrogate
    pair that does not fit goes whole to the next segment)."""
    segments, used = 1, 0
    for size in sizes:
        if used + size > capacity:
            segments, used = segments + 1, 0
        used += size
    return segments


def numbered_options(options: Sequence[Option], language: str = "en") -> str:
    """ "Reply 1 for Yes, 2 for No." (payloads stay hidden; the reply is mapped back by match_option)."""
    if not options:
        return ""
    choices = ", ".join(
        TEXTS("option", language, number=number, title=option.title)
        for number, option in enumerate(options, 1)
    )
    return TEXTS("options", language, choices=choices)


def render(text: str, options: Sequence[Option], bold: str = "", language: str = "en") -> str:
    """One bot message as plain text: markdown bold becomes `bold` markers ("" for SMS, "*" for WhatsApp)."""
    body = MARKDOWN_BOLD.sub(lambda match: f"{bold}{match.group(1)}{bold}", text or "")
    body = body.translate(PLAIN_TYPOGRAPHY).strip()
    menu = numbered_options(options, language)
    return f"{body}\n{menu}".strip() if menu else body


def split_message(text: str, limit: int) -> List[str]:
    """Parts of at most `limit` characters, cut between sentences (or words, for a very long one)."""
    return _split(text, lambda part: len(part) <= limit)


def split_sms(text: str, language: Optional[str]) -> List[str]:
    """Parts within the language's SMS budget (fits_sms), cut between sentences (or words): an
    English part in GSM-7 segments, a Spanish one in UCS-2 segments."""
    return _split(text, lambda part: fits_sms(part, language))


def _split(text: str, fits: Callable[[str], bool]) -> List[str]:
    if fits(text):
        return [text] if text else []
    parts: List[str] = []
    current = ""
    for sentence in _pieces(text, fits):
        candidate = f"{current} {sentence}".strip() if current else sentence
        if fits(candidate):
            current = candidate
        else:
            if current:
                parts.append(current)
            current = sentence
    if current:
        parts.append(current)
    return parts


def _pieces(text: str, fits: Callable[[str], bool]) -> Iterable[str]:
    for sentence in SENTENCE_END.split(text):
        sentence = sentence.strip()
        while sentence and not fits(sentence):
            cut = _longest_fitting_prefix(sentence, fits)
            space = sentence.rfind(" ", 0, cut + 1)
            cut = space if space > 0 else cut
            yield sentence[:cut].strip()
            sentence = sentence[cut:].strip()
        if sentence:
            yield sentence


def _longest_fitting_prefix(text: str, fits: Callable[[str], bool]) -> int:
    """The length of the longest prefix that fits (at least one character), by bisection: every
    measure here grows with the prefix."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(text[:middle]):
            low = middle
        else:
            high = middle - 1
    return low


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
