"""Reading and checking what a patient types into the booking form, in English or Spanish. Pure
functions, no Rasa.

Each parser returns the clean value or raises InvalidAnswer, which says what to type instead in
either language (`problem.text(language)`; `str(problem)` is the English); the form shows it in
the conversation's language and asks again.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Dict, Optional, Tuple, Union
from zoneinfo import ZoneInfo

import dateparser
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.clinic import MONTH_NAMES, WEEKDAY_NAMES, WEEKDAYS, ClinicSettings, month_name, weekday_name
from bot.messages import Messages, reply_language
from bot.text_normal import normalise

MAX_NAME_CHARS = 100
MAX_ANSWER_CHARS = 200
BOOKING_HORIZON_DAYS = 90

TEXTS = Messages(
    "booking_fields",
    {
        "too_long": {
            "en": "That's longer than I can use. Please keep it under {limit} characters.",
            "es": "Su respuesta es más larga de lo que puedo procesar. Por favor, escriba menos de {limit} "
            "caracteres.",
        },
        "name_too_long": {
            "en": "Please send just your full name (up to {limit} characters).",
            "es": "Por favor, envíe solo su nombre completo (hasta {limit} caracteres).",
        },
        "name_missing": {
            "en": "Please type your full name, for example: Maria Lopez.",
            "es": "Por favor, escriba su nombre completo, por ejemplo: María López.",
        },
        "name_letters": {
            "en": "A name can only have letters, spaces, apostrophes and hyphens. Please type your full name.",
            "es": "Un nombre solo puede tener letras, espacios, apóstrofos y guiones. Por favor, escriba "
            "su nombre completo.",
        },
        "phone_missing": {
            "en": "Please send a 10-digit US phone number, for example (305) 555-0123.",
            "es": "Por favor, envíe un número de teléfono de EE. UU. de 10 dígitos, por ejemplo (305) 555-0123.",
        },
        "phone_unreadable": {
            "en": "That doesn't look like a phone number. Please send it like (305) 555-0123.",
            "es": "Eso no parece un número de teléfono. Por favor, envíelo así: (305) 555-0123.",
        },
        "phone_invalid": {
            "en": "That number doesn't seem valid. Please check it and send it like (305) 555-0123.",
            "es": "Ese número no parece válido. Por favor, revíselo y envíelo así: (305) 555-0123.",
        },
        "phone_not_us": {
            "en": "We can only call and text US numbers. Please send a US phone number.",
            "es": "Solo podemos llamar y enviar mensajes a números de EE. UU. Por favor, envíe un número "
            "de EE. UU.",
        },
        "email_invalid": {
            "en": "That email address doesn't look right. Please check it, or type 'skip'.",
            "es": "Ese correo electrónico no parece correcto. Por favor, revíselo o escriba 'omitir'.",
        },
        "interest_choose": {
            "en": "Please choose one: RELIEF, PRP, stem cells, or not sure.",
            "es": "Por favor, elija una opción: RELIEF, PRP, células madre o no estoy seguro.",
        },
        "not_a_day": {
            "en": "I couldn't read that as a day. Try something like 'next Tuesday afternoon' or 'Dec 3 at 10am'.",
            "es": "No pude entender esa fecha. Pruebe algo como 'el martes que viene por la tarde' o "
            "'3 de diciembre a las 10 am'.",
        },
        "passed": {
            "en": "That time has already passed. Which day and time in the future would suit you?",
            "es": "Esa fecha ya pasó. ¿Qué día y hora en el futuro le convienen?",
        },
        "horizon": {
            "en": "Please choose a day within the next three months.",
            "es": "Por favor, elija un día dentro de los próximos tres meses.",
        },
        "closed_day": {
            "en": "We're closed on {days}. We're open {hours}. Which day works for you?",
            "es": "Los {days} estamos cerrados. Nuestro horario: {hours}. ¿Qué día le conviene?",
        },
        "no_hours": {"en": "our opening hours", "es": "llame a la clínica para conocerlo"},
        "outside_hours_time": {
            "en": "On {days} we're open {opening}. Which time in that window suits you?",
            "es": "Los {days}, nuestro horario es {opening}. ¿Qué hora dentro de ese horario le conviene?",
        },
        "outside_hours_part": {
            "en": "On {days} we're open {opening}. Could you pick a time in that window?",
            "es": "Los {days}, nuestro horario es {opening}. ¿Podría elegir una hora dentro de ese horario?",
        },
        # The read-back of a preferred time: "Tuesday, December 1, afternoon" /
        # "martes 1 de diciembre, por la tarde".
        "day": {"en": "{weekday}, {month} {day}", "es": "{weekday} {day} de {month}"},
        "day_at": {"en": "{day} at {time}", "es": "{day} a las {time}"},
        "day_at_one": {"en": "{day} at {time}", "es": "{day} a la {time}"},  # "a la 1:00 p. m."
        "day_part": {"en": "{day}, {part}", "es": "{day}, {part}"},
        "morning": {"en": "morning", "es": "por la mañana"},
        "afternoon": {"en": "afternoon", "es": "por la tarde"},
        "evening": {"en": "evening", "es": "por la noche"},
        "any_time": {"en": "any time", "es": "a cualquier hora"},
    },
)

# "Use the number I'm texting from" (the SMS option's payload is /affirm).
THIS_NUMBER_ANSWERS = {
    "affirm", "yes", "yeah", "yep", "sure", "ok", "this number", "this one", "same number",
    "the same", "same", "use this number", "use this one", "yes this number", "this phone",
    # Spanish, compared without accents (bot/text_normal.py)
    "si", "claro", "este numero", "este", "este mismo", "el mismo", "mismo numero", "el mismo numero",
    "si este numero", "si este", "usar este numero", "use este numero", "este telefono", "de este numero",
}  # fmt: skip


def means_this_number(text: object) -> bool:
    return isinstance(text, str) and normalise(text) in THIS_NUMBER_ANSWERS


# Answers that skip the (optional) email, compared without case, accents or punctuation.
SKIP_WORDS = {
    normalise(word)
    for word in (
        "skip", "no", "none", "no email", "n/a", "na", "no thanks", "i don't have one", "dont have one",
        "nope", "/deny", "deny",
        "omitir", "omita", "saltar", "no tengo", "no tengo correo", "no tengo email", "sin correo",
        "ninguno", "no gracias", "prefiero no", "paso", "no uso correo", "no tengo uno",
    )
}  # fmt: skip
NOT_NAMES = {
    "yes", "no", "ok", "okay", "hi", "hello", "sure", "skip", "stop", "cancel", "help", "test",
    "si", "hola", "gracias", "ayuda", "omitir", "prueba", "cancelar",
}  # fmt: skip
PARTS_OF_DAY = {
    "morning": (time(0), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time(23, 59)),
}
# Cues of each interest, compared without case or accents; the first interest with a cue wins.
INTERESTS = {
    "RELIEF": ("relief",),
    "PRP": ("prp", "platelet", "plaqueta", "plasma"),
    "Stem cells": ("stem", "cell", "wharton", "marrow", "adrc", "fat", "celula", "medula", "grasa", "adipos"),
    "Not sure": (
        "not sure", "unsure", "don't know", "dont know", "idk", "no idea", "skip", "anything", "other",
        "no estoy segur", "no se", "nose", "ni idea", "no lo se", "cualquiera", "otro", "otra", "omitir",
        "todavia no", "aun no",
    ),
}  # fmt: skip


Value = Union[str, int, Callable[[str], str]]


class InvalidAnswer(ValueError):
    """The answer cannot be used; `text(language)` tells the patient what to send instead.

    Values may be callables of the language (a day's name differs between languages).
    """

    def __init__(self, key: str, **values: Value) -> None:
        self.key = key
        self.values = values
        super().__init__(self.text("en"))

    def text(self, language: str) -> str:
        filled = {name: value(language) if callable(value) else value for name, value in self.values.items()}
        return TEXTS(self.key, language, **filled)


def _clean(text: Optional[str]) -> str:
    text = unicodedata.normalize("NFC", text or "").strip()
    if len(text) > MAX_ANSWER_CHARS:
        raise InvalidAnswer("too_long", limit=MAX_ANSWER_CHARS)
    return text


def parse_name(text: Optional[str]) -> str:
    """A person's name: letters of any script, spaces, apostrophes, hyphens and periods."""
    if text and len(text) > MAX_NAME_CHARS:
        raise InvalidAnswer("name_too_long", limit=MAX_NAME_CHARS)
    name = " ".join(_clean(text).split())
    if not name or normalise(name) in NOT_NAMES:
        raise InvalidAnswer("name_missing")
    allowed = all(ch.isalpha() or ch in " '-.’" or unicodedata.category(ch) == "Mn" for ch in name)
    if not allowed or sum(ch.isalpha() for ch in name) < 2:
        raise InvalidAnswer("name_letters")
    return name


def parse_phone(text: Optional[str], region: str = "US") -> str:
    """A US mobile or landline number, returned in E.164 form (+13055550123)."""
    raw = _clean(text)
    if not raw or len(re.sub(r"\D", "", raw)) < 7:
        raise InvalidAnswer("phone_missing")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidAnswer("phone_unreadable") from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidAnswer("phone_invalid")
    if phonenumbers.region_code_for_number(number) != region:
        raise InvalidAnswer("phone_not_us")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_email(text: Optional[str]) -> Optional[str]:
    """An email address, or None when the patient skips it (it is optional)."""
    raw = _clean(text)
    if normalise(raw) in SKIP_WORDS:
        return None
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidAnswer("email_invalid") from error


def parse_interest(text: Optional[str]) -> str:
    plain = normalise(_clean(text))
    for interest, cues in INTERESTS.items():
        if any(normalise(cue) in plain for cue in cues):
            return interest
    raise InvalidAnswer("interest_choose")


@dataclass(frozen=True)
class PreferredTime:
    day: date
    at: Optional[time] = None  # a specific time...
    part: Optional[str] = None  # ...or a part of the day; neither means "any time"

    def label(self, language: str = "en") -> str:
        """'Tuesday, December 1, afternoon', 'Thursday, December 3 at 10:00 AM' /
        'martes 1 de diciembre, por la tarde', 'jueves 3 de diciembre a las 10:00 a. m.'."""
        language = reply_language(language)
        day = TEXTS(
            "day",
            language,
            weekday=weekday_name(self.day.weekday(), language),
            month=month_name(self.day.month, language),
            day=self.day.day,
        )
        if self.at:
            key = "day_at_one" if self.at.hour % 12 == 1 else "day_at"
            return TEXTS(key, language, day=day, time=_clock(self.at, language))
        return TEXTS("day_part", language, day=day, part=TEXTS(self.part or "any_time", language))


def _clock(at: time, language: str) -> str:
    """'2:30 PM' / '2:30 p. m.'"""
    hour = at.hour % 12 or 12
    if language == "es":
        return f"{hour}:{at.minute:02d} {'a. m.' if at.hour < 12 else 'p. m.'}"
    return f"{hour}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"


# --- read-back labels: recognised when the form re-validates them, and put into English for staff --

_LABEL_PARTS = {
    language: {TEXTS(key, language): key for key in ("morning", "afternoon", "evening", "any_time")}
    for language in ("en", "es")
}
_ENGLISH_LABEL = re.compile(
    r"^(?P<weekday>[A-Z][a-z]+day), (?P<month>[A-Z][a-z]+) (?P<day>\d{1,2})"
    r"(?:, (?P<part>morning|afternoon|evening|any time)| at (?P<clock>\d{1,2}:\d\d) (?P<half>[AP]M))$"
)
_SPANISH_LABEL = re.compile(
    r"^(?P<weekday>"
    + "|".join(WEEKDAY_NAMES["es"])
    + r") (?P<day>\d{1,2}) de (?P<month>"
    + "|".join(MONTH_NAMES["es"])
    + r")(?:, (?P<part>por la mañana|por la tarde|por la noche|a cualquier hora)"
    r"| a las? (?P<clock>\d{1,2}:\d\d) (?P<half>[ap])\. m\.)$"
)


def is_read_back_label(value: object) -> bool:
    """True for a label PreferredTime.label() wrote, in either language (the form re-validates
    answers when it restarts, and our own read-back must pass as it is)."""
    return isinstance(value, str) and bool(_ENGLISH_LABEL.match(value) or _SPANISH_LABEL.match(value))


def english_label(label: str) -> str:
    """The English form of a Spanish read-back label, for staff ('martes 1 de diciembre, por la
    tarde' -> 'Tuesday, December 1, afternoon'); any other text is returned unchanged."""
    found = _SPANISH_LABEL.match(label) if isinstance(label, str) else None
    if not found:
        return label
    weekday = WEEKDAY_NAMES["en"][WEEKDAY_NAMES["es"].index(found["weekday"])]
    month = MONTH_NAMES["en"][MONTH_NAMES["es"].index(found["month"])]
    day = TEXTS("day", "en", weekday=weekday, month=month, day=int(found["day"]))
    if found["clock"]:
        return TEXTS("day_at", "en", day=day, time=f"{found['clock']} {found['half'].upper()}M")
    return TEXTS("day_part", "en", day=day, part=TEXTS(_LABEL_PARTS["es"][found["part"]], "en"))


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


# --- Spanish wording dateparser does not read ---------------------------------------------------
# dateparser (languages en+es) reads "martes", "mañana", "3 de diciembre", "lunes 15:00", but not
# "el martes que viene", "pasado mañana", "por la tarde" or "a las 3 de la tarde". These are
# rewritten first, on text without accents: the time and the part of the day are taken out, the
# rest is what dateparser gets.

_SPANISH_NUMBERS = {
    "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
    "nueve": 9, "diez": 10, "once": 11, "doce": 12,
}  # fmt: skip
_SPANISH_TIME = re.compile(
    r"\b(?:a eso de|como a|sobre|alrededor de|a)\s+las?\s+"
    r"(?P<hour>\d{1,2}|" + "|".join(_SPANISH_NUMBERS) + r")"
    r"(?::(?P<minute>\d\d)|\s+y\s+(?P<fraction>media|cuarto))?"
    r"(?:\s*(?P<half>am|pm)\b|\s+(?P<period>de la manana|de la tarde|de la noche|del mediodia))?"
)
_SPANISH_NOON = re.compile(r"\b(?:al|a|del|de)\s+mediodia\b")
_SPANISH_PART = re.compile(
    r"\b(?:(?:por|en|de|durante)\s+la\s+(?P<part>manana|tarde|noche)|(?P<early>temprano|tempranito))\b"
)
_SPANISH_PARTS = {"manana": "morning", "tarde": "afternoon", "noche": "evening"}
_SPANISH_FILLERS = re.compile(
    r"\b(?:que viene|por favor|el dia|el|la|los|las|para|este|esta|proximo|proxima|siguiente|dia"
    r"|puede ser|podria ser|quisiera|prefiero|mejor)\b"
)
# Without a qualifier, "a las 3" at a clinic means the afternoon; 8 to 12 mean the morning or noon.
_AFTERNOON_HOURS = range(1, 8)


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _spanish_time(found: "re.Match[str]") -> Optional[time]:
    hour_text = found["hour"]
    hour = int(hour_text) if hour_text.isdigit() else _SPANISH_NUMBERS[hour_text]
    minute = int(found["minute"] or 0) + {"media": 30, "cuarto": 15}.get(found["fraction"] or "", 0)
    half, period = found["half"], found["period"]
    if hour > 23 or minute > 59:
        return None
    if hour <= 12:
        if half == "pm" or period in ("de la tarde", "de la noche"):
            hour = hour % 12 + 12
        elif half == "am" or period == "de la manana":
            hour = hour % 12
        elif period == "del mediodia" or (half is None and period is None and hour in _AFTERNOON_HOURS):
            hour = hour if hour == 12 else hour + 12
    return time(hour, minute)


def read_spanish(raw: str) -> Tuple[str, Optional[str], Optional[time]]:
    """(what dateparser should read, part of the day, time) from a Spanish (or English) answer:
    'el lunes a las 3 de la tarde' -> ('lunes', None, 15:00); 'pasado mañana en la mañana' ->
    ('en 2 dias', 'morning', None). English text comes back unchanged."""
    text = _without_accents(raw.lower())
    text = re.sub(r"(\d)\s*([ap])\s?\.\s?m\b\.?", r"\1\2m", text)  # "2 p. m." -> "2pm"
    at: Optional[time] = None
    found = _SPANISH_TIME.search(text)
    if found:
        at = _spanish_time(found)
        text = text[: found.start()] + " " + text[found.end() :]
    elif _SPANISH_NOON.search(text):
        at = time(12)
        text = _SPANISH_NOON.sub(" ", text)
    part = None
    found_part = _SPANISH_PART.search(text)
    if found_part:
        part = "morning" if found_part["early"] else _SPANISH_PARTS[found_part["part"]]
        text = _SPANISH_PART.sub(" ", text)
    if at is None and part is None and not _looks_spanish(text):
        return raw, None, None
    text = re.sub(r"\bpasado\s+manana\b", "en 2 dias", text)
    text = _SPANISH_FILLERS.sub(" ", text)
    return " ".join(text.split()), part, at


_SPANISH_WORDS = re.compile(
    r"\b(?:manana|hoy|pasado|lunes|martes|miercoles|jueves|viernes|sabado|domingo|de|el|la|que viene"
    r"|proximo|proxima|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre"
    r"|octubre|noviembre|diciembre|semana)\b"
)


def _looks_spanish(text: str) -> bool:
    return bool(_SPANISH_WORDS.search(text))


def parse_preferred_time(
    text: Optional[str], clinic: ClinicSettings, now: Optional[datetime] = None, language: str = "en"
) -> PreferredTime:
    """'next Tuesday afternoon', 'Dec 3 at 10am', 'tomorrow', 'el martes que viene por la tarde',
    'mañana a las 10': a future time the clinic is open. `language` orders numeric dates
    (3/12 is March 12 in English, December 3 in Spanish)."""
    raw = _clean(text).lower()
    zone = ZoneInfo(clinic.timezone)
    now = now.astimezone(zone) if now else datetime.now(zone)
    phrase, spanish_part, spanish_at = read_spanish(raw)
    part = spanish_part or next((name for name in PARTS_OF_DAY if name in phrase), None)
    # dateparser reads "tuesday" as the coming Tuesday but not "next tuesday" or "tuesday afternoon".
    phrase = re.sub(r"\bnext\b(?!\s+(week|month|year))", " ", phrase)
    phrase = re.sub(r"\b(this|coming|on|in the|morning|afternoon|evening|please|around|about)\b", " ", phrase)
    phrase = " ".join(phrase.split())
    if not phrase and (part or spanish_at):
        phrase = "today"
    settings: Dict[str, Any] = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": now.replace(tzinfo=None),
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    if reply_language(language) == "es":
        settings["DATE_ORDER"] = "DMY"
    parsed = dateparser.parse(phrase, languages=["en", "es"], settings=settings) if phrase else None
    if parsed is None:
        raise NotADay("not_a_day")
    if spanish_at is not None:
        wanted = PreferredTime(day=parsed.date(), at=spanish_at)
    else:
        has_time = bool(re.search(r"\d\s*(am|pm)\b|\d:\d\d|\bnoon\b", phrase))
        wanted = PreferredTime(
            day=parsed.date(), at=parsed.time() if has_time else None, part=None if has_time else part
        )
    check_open(wanted, clinic, now)
    return wanted


def _plural_day(index: int) -> Callable[[str], str]:
    """'Sundays' / 'domingos' (Spanish weekdays ending in -es do not change: 'los lunes')."""

    def name(language: str) -> str:
        day = weekday_name(index, language)
        if language == "es":
            return day if day.endswith("s") else f"{day}s"
        return f"{day}s"

    return name


def check_open(wanted: PreferredTime, clinic: ClinicSettings, now: datetime) -> None:
    """Raises InvalidAnswer unless the time is in the future, within the horizon and opening hours."""
    if wanted.day < now.date() or (wanted.day == now.date() and (wanted.at or time(23, 59)) <= now.time()):
        raise InvalidAnswer("passed")
    if wanted.day > now.date() + timedelta(days=BOOKING_HORIZON_DAYS):
        raise InvalidAnswer("horizon")
    weekday = wanted.day.weekday()
    opening = clinic.opening_hours.get(WEEKDAYS[weekday])
    if not opening:
        raise InvalidAnswer(
            "closed_day",
            days=_plural_day(weekday),
            hours=lambda language: clinic.hours_text(language) or TEXTS("no_hours", language),
        )
    opens, closes = (time.fromisoformat(value.strip()) for value in opening.split("-"))
    if wanted.at and not (opens <= wanted.at < closes):
        raise InvalidAnswer("outside_hours_time", days=_plural_day(weekday), opening=opening)
    if wanted.part:
        start, end = PARTS_OF_DAY[wanted.part]
        if end <= opens or start >= closes:
            raise InvalidAnswer("outside_hours_part", days=_plural_day(weekday), opening=opening)
