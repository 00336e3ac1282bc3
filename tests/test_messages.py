"""The texts Python code sends patients (bot/messages.py tables), in English and Spanish: both
languages for every key, the same placeholders, the same claims lint as the domain's responses,
911 in every fallback and apology, usted and accents in the Spanish."""

from __future__ import annotations

import importlib
import re
from collections import defaultdict
from typing import Dict, List

import pytest

from bot import PROJECT_ROOT
from bot.messages import Messages, all_texts, message, placeholders, reply_language, tracker_language
from tests.conftest import make_tracker
from tests.test_responses import (
    CODE_SOURCES,
    DIAGNOSIS,
    EMERGENCY_ADVICE,
    FALLBACK,
    FORBIDDEN,
    RELIEF_OWNERSHIP,
    SENTENCE_END,
    unhedged_repair_claims,
)

SPANISH_EMERGENCY_ADVICE = "Si es una emergencia, llame al 911"
# A Spanish text that apologises, asks to rephrase or cannot use the message is a fallback.
SPANISH_FALLBACK = re.compile(
    r"\bdisculpe\b|\blo siento\b|no (le )?entend|no logro entender|otra manera|otras palabras"
    r"|asegurarme de haberle entendido|m[aá]s corto|solo puedo leer|escr[ií]bame su pregunta"
    r"|problemas t[eé]cnicos|sali[oó] mal|no pudimos guardar|no est[aá] funcionando",
    re.IGNORECASE,
)
# Fallbacks and apologies known by name: the regexes above must see every one, in both languages.
KNOWN_FALLBACKS = [
    "clarify.rephrase",
    "clarify.did_you_mean",
    "clarify.still_unsure",
    "faq_more.nothing_to_expand",
    "booking.give_up",
    "booking.submit_failed",
    "booking.save_failed",
    "channels.trouble",
    "twilio.empty",
    "twilio.too_long",
]
# Informal (tú) forms; the bot addresses patients as usted.
TU_FORMS = re.compile(
    r"\b(tú|tu|tus|te|ti|contigo|tienes|puedes|quieres|necesitas|escribe|escríbeme|llámanos|envíame"
    r"|responde|elige|revisa|intenta|cuéntame)\b",
    re.IGNORECASE,
)
# Spanish words written without their accent (the bot's own texts must carry them).
MISSING_ACCENTS = re.compile(
    r"\b(clinica|telefono|informacion|numero|direccion|electronico|tecnicos|podria|tambien|despues"
    r"|aqui|dia|dias|linea|segun|articulo|mas|envielo|reviselo|llamenos|escribame|senal|proximos"
    r"|apostrofos|digitos|cancelacion)\b"
)
ENGLISH_ONLY = re.compile(r"\b(the|and|please|call|your|you)\b", re.IGNORECASE)


def import_every_message_table() -> None:
    """Imports every module whose texts tests/test_responses.py lints (they register their tables)."""
    for path in CODE_SOURCES:
        module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
        importlib.import_module(module)


import_every_message_table()
TEXTS = list(all_texts())
BY_KEY: Dict[str, Dict[str, str]] = defaultdict(dict)
for _key, _language, _template in TEXTS:
    BY_KEY[_key][_language] = _template
SPANISH = [(key, text) for key, language, text in TEXTS if language == "es"]
ENGLISH = [(key, text) for key, language, text in TEXTS if language == "en"]


def test_the_tables_are_found():
    namespaces = {key.split(".")[0] for key in BY_KEY}
    assert {
        "clarify",
        "contact",
        "faq_followup",
        "faq_more",
        "booking",
        "booking_fields",
        "clinic",
    } <= namespaces
    assert {"channels", "twilio", "texting"} <= namespaces
    assert len(BY_KEY) > 80


def test_every_table_lives_where_the_code_lint_reads():
    """tests/test_responses.py lints the texts of actions/, bot/channels/ and bot/clinic.py from the
    source; a table anywhere else would escape it."""
    linted = {path.resolve() for path in CODE_SOURCES}
    for path in sorted((PROJECT_ROOT / "bot").rglob("*.py")) + sorted(
        (PROJECT_ROOT / "actions").glob("*.py")
    ):
        if path.name == "messages.py" and path.parent.name == "bot":
            continue
        if re.search(r"^\w+ = Messages\(", path.read_text(encoding="utf-8"), re.MULTILINE):
            assert path.resolve() in linted, path


@pytest.mark.parametrize("key", sorted(BY_KEY))
def test_every_key_has_both_languages_with_the_same_placeholders(key):
    versions = BY_KEY[key]
    assert set(versions) == {"en", "es"}
    assert all(text.strip() for text in versions.values())
    assert placeholders(versions["en"]) == placeholders(versions["es"])


@pytest.mark.parametrize(
    "key, text", SPANISH + ENGLISH, ids=[f"{k}-es" for k, _ in SPANISH] + [f"{k}-en" for k, _ in ENGLISH]
)
def test_no_forbidden_claims_in_either_language(key, text):
    assert not FORBIDDEN.search(text), f"{key}: {FORBIDDEN.search(text).group(0)!r}"
    assert not DIAGNOSIS.search(text), key
    assert not unhedged_repair_claims(text), key
    for sentence in SENTENCE_END.split(text):
        if "RELIEF" in sentence:
            assert not RELIEF_OWNERSHIP.search(sentence), key
            assert not re.search(r"\bnuestro tratamiento RELIEF\b|\bRELIEF de la clínica\b", sentence), key


@pytest.mark.parametrize("key, text", ENGLISH, ids=[key for key, _ in ENGLISH])
def test_every_english_fallback_says_call_911(key, text):
    if FALLBACK.search(text):
        assert EMERGENCY_ADVICE in text, key


@pytest.mark.parametrize("key, text", SPANISH, ids=[key for key, _ in SPANISH])
def test_every_spanish_fallback_says_call_911(key, text):
    if SPANISH_FALLBACK.search(text):
        assert SPANISH_EMERGENCY_ADVICE in text, key


@pytest.mark.parametrize("key", KNOWN_FALLBACKS)
def test_the_fallback_lints_see_the_known_fallbacks_in_both_languages(key):
    english, spanish = BY_KEY[key]["en"], BY_KEY[key]["es"]
    assert FALLBACK.search(english) and EMERGENCY_ADVICE in english
    assert SPANISH_FALLBACK.search(spanish) and SPANISH_EMERGENCY_ADVICE in spanish


def test_the_spanish_fallback_lint_catches_what_it_should():
    for fallback in [
        "Disculpe, no le entendí.",
        "Lo siento, todavía no logro entender.",
        "Su mensaje es un poco largo: envíe uno más corto.",
        "Disculpe, tengo problemas técnicos.",
        "Algo salió mal.",
    ]:
        assert SPANISH_FALLBACK.search(fallback), fallback
    assert not SPANISH_FALLBACK.search("Puede comunicarse con la clínica al (305) 555-0100.")


@pytest.mark.parametrize("key, text", SPANISH, ids=[key for key, _ in SPANISH])
def test_spanish_says_usted_keeps_its_accents_and_is_translated(key, text):
    plain = re.sub(r"\{\w+\}|'[^']*'", " ", text)  # placeholders and quoted examples ('skip')
    assert not TU_FORMS.search(plain), f"{key}: {TU_FORMS.search(plain).group(0)!r}"
    assert not MISSING_ACCENTS.search(plain), f"{key}: {MISSING_ACCENTS.search(plain).group(0)!r}"
    if len(plain.split()) > 2:
        assert not ENGLISH_ONLY.search(plain), f"{key}: {ENGLISH_ONLY.search(plain).group(0)!r}"


def test_the_usted_and_accent_lints_catch_what_they_should():
    assert TU_FORMS.search("Puedes llamar a la clínica") and TU_FORMS.search("Escribe tu nombre")
    assert not TU_FORMS.search("Puede llamar a la clínica y escribir su nombre")
    assert MISSING_ACCENTS.search("llame a la clinica") and MISSING_ACCENTS.search("en unos dias")
    assert not MISSING_ACCENTS.search("Si es una emergencia, llame a la clínica en unos días")


# --- the catalogue itself ---------------------------------------------------------------------


def test_a_text_is_given_in_the_asked_language_and_english_otherwise():
    assert message("clarify.rephrase", "es").startswith("Disculpe")
    assert message("clarify.rephrase", "en").startswith("Sorry")
    for unknown in (None, "", "fr", "ES ", 42):
        expected = "es" if unknown == "ES " else "en"
        assert reply_language(unknown) == expected
    assert message("clarify.rephrase", "fr") == message("clarify.rephrase")


def test_values_fill_the_placeholders_verbatim():
    text = message("booking.got_it", "es", time="{name} ñ")
    assert text == "Entendido: {name} ñ."
    with pytest.raises(KeyError):
        message("booking.got_it", "es")


def test_a_table_missing_a_language_or_a_placeholder_is_refused():
    with pytest.raises(ValueError, match="no text in es"):
        Messages("test_missing", {"hello": {"en": "Hello"}})
    with pytest.raises(ValueError, match="placeholders"):
        Messages("test_fields", {"call": {"en": "Call {phone}.", "es": "Llame a la clínica."}})
    with pytest.raises(ValueError, match="both name a message table 'clarify'"):
        Messages("clarify", {"rephrase": {"en": "x", "es": "y"}})
    assert message("clarify.rephrase").startswith("Sorry, I didn't get that.")


def test_both_languages_come_english_first():
    table = Messages("test_both", {"hi": {"en": "Hello {name}.", "es": "Hola {name}."}})
    assert table.both("hi", name="Ana") == "Hello Ana.\n\nHola Ana."


@pytest.mark.parametrize("slot, expected", [("es", "es"), ("en", "en"), (None, "en"), ("de", "en")])
def test_the_reply_language_is_the_language_slot(slot, expected):
    assert tracker_language(make_tracker(slots={"language": slot})) == expected


def copied_from_english() -> List[str]:
    """Keys whose Spanish is the English copied (brand names and codes aside)."""
    same = [key for key, versions in BY_KEY.items() if versions["en"] == versions["es"]]
    return [key for key in same if re.search(r"[a-z]{4,}", re.sub(r"\{\w+\}", "", BY_KEY[key]["en"]))]


def test_no_spanish_text_is_the_english_copied():
    assert copied_from_english() == []


def test_a_reloaded_module_replaces_its_own_table():
    """The action server's --auto-reload imports a changed module again."""
    import actions.contact

    importlib.reload(actions.contact)
    assert message("contact.in_person", "es", contact="X").startswith("Nuestro equipo")
