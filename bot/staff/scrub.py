"""Personal data taken out of patient messages before staff see them or they become training data.

Phone numbers are found with `phonenumbers` (all the formats patients type), emails with
email-validator's own syntax rules applied to candidate tokens; dates and "my name is ..." with
patterns, because no library here recognises a date of birth or a name in free text. Replacements
are placeholders ([phone], [email], [date], [name]) so a message stays readable.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

EMAIL_CANDIDATE = re.compile(r"\S+@\S+")
MONTHS = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
DATES = re.compile(
    rf"\b(\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|{MONTHS}\s+\d{{1,2}}(st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(st|nd|rd|th)?\s+{MONTHS},?\s+\d{{4}})",
    re.IGNORECASE,
)
# "my name is Ana Lopez", "I'm Ana", "this is Ana Lopez": up to three capitalised words.
NAME_INTRO = re.compile(
    r"\b(my name is|my name's|i am|i'm|this is|me llamo|soy)\s+((?-i:[A-ZÁÉÍÓÚÑ][\w'-]+)(?:\s(?-i:[A-ZÁÉÍÓÚÑ][\w'-]+)){0,2})",
    re.IGNORECASE,
)
# Words that follow "I'm" without being a name ("I'm Worried").
NOT_NAMES = {"worried", "scared", "not", "in", "having", "looking", "a", "an", "the", "so", "very", "still"}


def scrub(text: str) -> str:
    text = _replace_phones(text)
    text = EMAIL_CANDIDATE.sub(_email_or_token, text)
    text = DATES.sub("[date]", text)
    return NAME_INTRO.sub(_name, text)


def _replace_phones(text: str) -> str:
    matches = list(phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.POSSIBLE))
    for match in reversed(matches):
        text = text[: match.start] + "[phone]" + text[match.end :]
    return text


def _email_or_token(match: re.Match) -> str:
    token = match.group(0).rstrip(".,;:!?)")
    try:
        validate_email(token, check_deliverability=False)
    except EmailNotValidError:
        return match.group(0)
    return "[email]" + match.group(0)[len(token) :]


def _name(match: re.Match) -> str:
    first_word = match.group(2).split()[0]
    if first_word.casefold() in NOT_NAMES or not first_word[0].isupper():
        return match.group(0)
    return f"{match.group(1)} [name]"
