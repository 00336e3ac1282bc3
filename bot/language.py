"""Which language a patient writes in: English or Spanish, detected offline.

The reply language is sticky (the `language` slot): it changes only when a message says so
clearly, so "ok", "PRP" or "Medicare" inside a Spanish conversation never flip it to English.
A switch happens on:
- an explicit choice: the widget's EN/ES toggle (`metadata.language_choice`), or a request such as
  "en español" / "English please";
- a confident message of several words (lingua, restricted to English and Spanish);
- a Spanish greeting or thanks ("hola", "buenas tardes", "gracias"), which are one or two words
  but never English;
- a message of up to three words with a word only Spanish has ("ayuda", "ambulancia").
Why lingua: its models ship inside the wheel (no download) and it is accurate on short texts,
where n-gram detectors such as langdetect guess.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Tuple

from bot.text_normal import normalise

ENGLISH = "en"
SPANISH = "es"
LANGUAGES = (ENGLISH, SPANISH)
DEFAULT_LANGUAGE = ENGLISH

# The lingua confidence a switch needs, by message length in words (letters only). One word never
# switches ("ok", "PRP", "Medicare", "no"); two need near certainty ("cuanto cuesta"). Measured on
# the project's English and Spanish sets (docs/decisions.md, 22).
MIN_CONFIDENCE_TWO_WORDS = 0.90
MIN_CONFIDENCE_LONGER = 0.70

WORD = re.compile(r"[^\W\d_]+")

# Names and acronyms both languages use; they say nothing about the language and are left out
# before detection ("RELIEF Miami" is neither English nor Spanish).
SHARED_WORDS = frozenset(
    "ok okay okey relief prp rfa mri adrc adrcs msc mscs bm fda medicare medicaid miami hialeah doral"
    " kendall coral gables homestead westchester sweetwater brickell aventura wharton wharton's"
    " l1 l2 l3 l4 l5 s1 c5 c6 c7 tylenol advil ibuprofen".split()
)

# Requests for a language, matched on normalised text (lowercase, no accents).
EXPLICIT_REQUESTS = {
    SPANISH: re.compile(
        r"^(?:(?:en|in) )?(?:espanol|spanish|castellano)(?: (?:por favor|please|pls))?$"
        r"|\b(?:en|in) (?:espanol|castellano)\b"
        r"|\b(?:hablas?|habla|hablan|speak|speaks|talk) (?:en )?(?:espanol|castellano|spanish)\b"
        r"|\bspanish please\b"
    ),
    ENGLISH: re.compile(
        r"^(?:(?:en|in) )?(?:english|ingles)(?: (?:por favor|please|pls))?$"
        r"|\b(?:in|en) (?:english|ingles)\b"
        r"|\b(?:hablas?|habla|hablan|speak|speaks|talk) (?:en )?(?:ingles|english)\b"
        r"|\benglish please\b"
    ),
}

# Short messages that are unmistakably Spanish (greetings and thanks are how chats start).
SPANISH_SHORT_MESSAGES = re.compile(
    r"^(?:hola|holaa+|buenas|buenos dias|buenas tardes|buenas noches|buen dia|gracias|muchas gracias"
    r"|adios|hola buenas|hola buenos dias|hola buenas tardes|hola buenas noches|saludos|que tal"
    r"|hola que tal|si gracias|no gracias senor|de nada)$"
)


# Words that are Spanish and never English, for the short messages lingua cannot judge ("ayuda",
# "ambulancia", "sangro mucho", "llamen al 911"): a first message in an emergency is often that short.
SPANISH_ONLY_WORDS = frozenset(
    "ayuda ayudenme ayudame auxilio socorro ambulancia llamen llame emergencia urgencia sangro sangrando"
    " sangre desmayo desmaye dolor duele cita gracias hola buenas favor porfa necesito quiero puedo"
    " tengo estoy espalda pierna piernas pecho cabeza fiebre medico doctora inyeccion".split()
)


def explicit_request(text: str) -> Optional[str]:
    """The language a message asks for ("en español", "English please"), if it asks for one."""
    plain = normalise(text)
    for language, pattern in EXPLICIT_REQUESTS.items():
        if pattern.search(plain):
            return language
    return None


def confident_language(text: str) -> Optional[str]:
    """The language of a message when it is clear; None otherwise."""
    if SPANISH_SHORT_MESSAGES.match(normalise(text)):
        return SPANISH
    words = [word for word in WORD.findall(text) if word.lower() not in SHARED_WORDS]
    language = _lingua_language(words) if len(words) >= 2 else None
    if language:
        return language
    # Short messages lingua cannot judge: a word only Spanish has decides ("ayuda", "ambulancia").
    if len(words) <= 3 and any(normalise(word) in SPANISH_ONLY_WORDS for word in words):
        return SPANISH
    return None


def language_switch(text: str, metadata: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """The language to switch the conversation to after this message, or None to keep it."""
    choice = (metadata or {}).get("language_choice") if isinstance(metadata, Mapping) else None
    if choice in LANGUAGES:
        return choice
    return explicit_request(text) or confident_language(text)


def best_guess(text: str, default: str = DEFAULT_LANGUAGE) -> str:
    """A reply language when no conversation state is at hand (e.g. a channel's fallback)."""
    return language_switch(text) or default


def _lingua_language(words: List[str]) -> Optional[str]:
    detector, codes = _detector()
    best = max(detector.compute_language_confidence_values(" ".join(words)), key=lambda value: value.value)
    needed = MIN_CONFIDENCE_TWO_WORDS if len(words) == 2 else MIN_CONFIDENCE_LONGER
    return codes[best.language] if best.value >= needed else None


@lru_cache(maxsize=1)
def _detector() -> Tuple[Any, Dict[Any, str]]:
    # Imported late: the models load on first use, not when a module importing this one loads.
    from lingua import Language, LanguageDetectorBuilder

    codes = {Language.ENGLISH: ENGLISH, Language.SPANISH: SPANISH}
    return LanguageDetectorBuilder.from_languages(*codes).build(), codes
