"""Reading and checking what a patient types into the booking form. Pure functions, no Rasa.

Each parser returns the clean value or raises InvalidAnswer with a message that says what to
type instead; the form shows that message and asks again.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

import dateparser
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.clinic import WEEKDAYS, ClinicSettings
from bot.text_normal import normalise

MAX_NAME_CHARS = 100
MAX_ANSWER_CHARS = 200
BOOKING_HORIZON_DAYS = 90
# "Use the number I'm texting from" (the SMS option's payload is /affirm).
THIS_NUMBER_ANSWERS = {
    "affirm", "yes", "yeah", "yep", "sure", "ok", "this number", "this one", "same number",
    "the same", "same", "use this number", "use this one", "yes this number", "this phone",
}  # fmt: skip


def means_this_number(text: object) -> bool:
    return isinstance(text, str) and normalise(text) in THIS_NUMBER_ANSWERS


SKIP_WORDS = {
    "skip",
    "no",
    "none",
    "no email",
    "n/a",
    "na",
    "no thanks",
    "i don't have one",
    "dont have one",
    "nope",
    "/deny",
}
NOT_NAMES = {"yes", "no", "ok", "okay", "hi", "hello", "sure", "skip", "stop", "cancel", "help", "test"}
PARTS_OF_DAY = {
    "morning": (time(0), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time(23, 59)),
}
INTERESTS = {
    "RELIEF": ("relief",),
    "PRP": ("prp", "platelet"),
    "Stem cells": ("stem", "cell", "wharton", "marrow", "adrc", "fat"),
    "Not sure": (
        "not sure",
        "unsure",
        "don't know",
        "dont know",
        "idk",
        "no idea",
        "skip",
        "anything",
        "other",
    ),
}


class InvalidAnswer(ValueError):
    """The answer cannot be used; str(error) tells the patient what to send instead."""


def _clean(text: Optional[str]) -> str:
    text = unicodedata.normalize("NFC", text or "").strip()
    if len(text) > MAX_ANSWER_CHARS:
        raise InvalidAnswer(
            f"That's longer than I can use. Please keep it under {MAX_ANSWER_CHARS} characters."
        )
    return text


def parse_name(text: Optional[str]) -> str:
    """A person's name: letters of any script, spaces, apostrophes, hyphens and periods."""
    if text and len(text) > MAX_NAME_CHARS:
        raise InvalidAnswer(f"Please send just your full name (up to {MAX_NAME_CHARS} characters).")
    name = " ".join(_clean(text).split())
    if not name or name.lower() in NOT_NAMES:
        raise InvalidAnswer("Please type your full name, for example: Maria Lopez.")
    allowed = all(ch.isalpha() or ch in " '-.’" or unicodedata.category(ch) == "Mn" for ch in name)
    if not allowed or sum(ch.isalpha() for ch in name) < 2:
        raise InvalidAnswer(
            "A name can only have letters, spaces, apostrophes and hyphens. Please type your full name."
        )
    return name


def parse_phone(text: Optional[str], region: str = "US") -> str:
    """A US mobile or landline number, returned in E.164 form (+13055550123)."""
    raw = _clean(text)
    if not raw or len(re.sub(r"\D", "", raw)) < 7:
        raise InvalidAnswer("Please send a 10-digit US phone number, for example (305) 555-0123.")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidAnswer(
            "That doesn't look like a phone number. Please send it like (305) 555-0123."
        ) from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidAnswer(
            "That number doesn't seem valid. Please check it and send it like (305) 555-0123."
        )
    if phonenumbers.region_code_for_number(number) != region:
        raise InvalidAnswer("We can only call and text US numbers. Please send a US phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_email(text: Optional[str]) -> Optional[str]:
    """An email address, or None when the patient skips it (it is optional)."""
    raw = _clean(text)
    if raw.lower().strip(".! ") in SKIP_WORDS:
        return None
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidAnswer(
            "That email address doesn't look right. Please check it, or type 'skip'."
        ) from error


def parse_interest(text: Optional[str]) -> str:
    raw = _clean(text).lower()
    for interest, cues in INTERESTS.items():
        if any(cue in raw for cue in cues):
            return interest
    raise InvalidAnswer("Please choose one: RELIEF, PRP, stem cells, or not sure.")


@dataclass(frozen=True)
class PreferredTime:
    day: date
    at: Optional[time] = None  # a specific time...
    part: Optional[str] = None  # ...or a part of the day; neither means "any time"

    def label(self) -> str:
        day = f"{self.day:%A}, {self.day:%B} {self.day.day}"
        if self.at:
            return f"{day} at {self.at.strftime('%I:%M %p').lstrip('0')}"
        return f"{day}, {self.part}" if self.part else f"{day}, any time"


class NotADay(InvalidAnswer):
    """The answer has no day or time in it at all (as opposed to a day the clinic is closed)."""


def reads_as_a_day(text: Optional[str], clinic: ClinicSettings) -> bool:
    """True for any day or time, even a past or closed one (validation then says what is wrong)."""
    try:
        parse_preferred_time(text, clinic)
    except NotADay:
        return False
    except InvalidAnswer:
        return True
    return True


def parse_preferred_time(
    text: Optional[str], clinic: ClinicSettings, now: Optional[datetime] = None
) -> PreferredTime:
    """'next Tuesday afternoon', 'Dec 3 at 10am', 'tomorrow': a future time the clinic is open."""
    raw = _clean(text).lower()
    zone = ZoneInfo(clinic.timezone)
    now = now.astimezone(zone) if now else datetime.now(zone)
    part = next((name for name in PARTS_OF_DAY if name in raw), None)
    # dateparser reads "tuesday" as the coming Tuesday but not "next tuesday" or "tuesday afternoon".
    phrase = re.sub(r"\bnext\b(?!\s+(week|month|year))", " ", raw)
    phrase = re.sub(r"\b(this|coming|on|in the|morning|afternoon|evening|please|around|about)\b", " ", phrase)
    phrase = " ".join(phrase.split())
    if not phrase and part:
        phrase = "today"
    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": now.replace(tzinfo=None),
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    parsed = dateparser.parse(phrase, languages=["en"], settings=settings) if phrase else None
    if parsed is None:
        raise NotADay(
            "I couldn't read that as a day. Try something like 'next Tuesday afternoon' or 'Dec 3 at 10am'."
        )
    has_time = bool(re.search(r"\d\s*(am|pm)\b|\d:\d\d|\bnoon\b", raw))
    wanted = PreferredTime(
        day=parsed.date(), at=parsed.time() if has_time else None, part=None if has_time else part
    )
    check_open(wanted, clinic, now)
    return wanted


def check_open(wanted: PreferredTime, clinic: ClinicSettings, now: datetime) -> None:
    """Raises InvalidAnswer unless the time is in the future, within the horizon and opening hours."""
    hours_text = clinic.hours_text() or "our opening hours"
    if wanted.day < now.date() or (wanted.day == now.date() and (wanted.at or time(23, 59)) <= now.time()):
        raise InvalidAnswer("That time has already passed. Which day and time in the future would suit you?")
    if wanted.day > now.date() + timedelta(days=BOOKING_HORIZON_DAYS):
        raise InvalidAnswer("Please choose a day within the next three months.")
    opening = clinic.opening_hours.get(WEEKDAYS[wanted.day.weekday()])
    if not opening:
        raise InvalidAnswer(
            f"We're closed on {wanted.day:%A}s. We're open {hours_text}. Which day works for you?"
        )
    opens, closes = (time.fromisoformat(value.strip()) for value in opening.split("-"))
    if wanted.at and not (opens <= wanted.at < closes):
        raise InvalidAnswer(f"On {wanted.day:%A}s we're open {opening}. Which time in that window suits you?")
    if wanted.part:
        start, end = PARTS_OF_DAY[wanted.part]
        if end <= opens or start >= closes:
            raise InvalidAnswer(
                f"On {wanted.day:%A}s we're open {opening}. Could you pick a time in that window?"
            )
