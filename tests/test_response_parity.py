"""Spanish responses: one per English variant and channel, chosen by Rasa's own response selection.

Every response in domain.yml has English variants (no condition) and, right after them, Spanish
variants with the condition `slot language == es`, one per channel the English ones use. Rasa 3.6
(rasa/core/nlg/generator.py, ResponseVariationFilter) picks, in this order: conditional variants of
the output channel, then unconditional ones of the channel, then conditional ones without a channel,
then unconditional ones without a channel. So a Spanish variant missing for a channel the English
has (sms, whatsapp) would send a Spanish patient the English channel text: the parity checks below
and the TemplatedNaturalLanguageGenerator runs guard against exactly that.

The Spanish texts go through the same claims lint as the English ones (tests/test_responses.py),
plus Spanish checks the English regexes cannot see.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any, Dict, List, Optional, Tuple

import pytest
import yaml
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot import PROJECT_ROOT
from bot.channels.texting import WHATSAPP_MAX_CHARS, options_from_buttons, render, ucs2_units
from bot.channels.twilio import MAX_OPTION_REPLY_CHARS, SmsInput, WhatsAppInput
from tests.test_responses import (
    DIAGNOSIS,
    EMERGENCY_ADVICE,
    FAQ_TOPICS,
    FORBIDDEN,
    RED_FLAG_ADVICE,
    REGENERATIVE_TOPICS,
    SENTENCE_END,
    unhedged_repair_claims,
)

DOMAIN_PATH = PROJECT_ROOT / "domain.yml"
TOPICS_PATH = PROJECT_ROOT / "bot" / "topics.yml"
SPANISH_CONDITION = [{"type": "slot", "name": "language", "value": "es"}]
SMS = SmsInput.channel_name
WHATSAPP = WhatsAppInput.channel_name
# Output channels without variants of their own: the widget, the REST API, Rasa's collector.
SCREEN_CHANNELS = ("widget", "rest", "collector")

# Spanish SMS are UCS-2 (accents): 67 characters per concatenated segment, at most 4 segments.
SPANISH_SMS_MAX_CHARS = 4 * 67
ENGLISH_MORE = "Reply MORE for details."
SPANISH_MORE = "Responda MÁS para ver más."
SPANISH_EMERGENCY_ADVICE = "Si es una emergencia, llame al 911."
SPANISH_RED_FLAG_ADVICE = re.compile(r"llame al 911 o vaya ahora a (la sala de )?emergencias")
SPANISH_CAVEAT = re.compile(
    r"\ben investigación\b.*\bno (está |están )?aprobad[oa]s? por la FDA para este uso\b", re.IGNORECASE
)
# Button payloads that are neither slash intents nor topic questions.
SPANISH_PAYLOADS = {"skip": "omitir", "RELIEF": "RELIEF", "PRP": "PRP", "stem cells": "células madre",
                    "not sure": "no estoy seguro"}  # fmt: skip

# What the shared lint (English-first) cannot see in Spanish.
SPANISH_CLAIMS = re.compile(
    r"\b(probad[oa]s?|comprobad[oa]s?|permanentes?|permanentemente|milagros?|milagros[oa]s?"
    r"|respaldad[oa]s? por (la )?evidencia|sin (ningún )?riesgos?|segur[oa] al 100)\b",
    re.IGNORECASE,
)
SPANISH_DIAGNOSIS = re.compile(
    r"(?<!si )\b(usted )?(tiene|padece|sufre de) (artritis|degeneraci\w+|síndrome facetario|una hernia"
    r"|hipertrofia|espondilosis|radiculopatía|ciática)",
    re.IGNORECASE,
)
SPANISH_REPAIR = re.compile(
    r"\b(repar(a|an|ar|ará|ó|aron)|reparación|reconstru\w+|regenera(r|n)?)\b", re.IGNORECASE
)
SPANISH_HEDGE = re.compile(
    r"\b(puede|pueden|podría|podrían|busca|buscan|buscar|sugiere|sugieren|sugirieron|reportó"
    r"|reportaron|diseñad[oa]s? para)\b",
    re.IGNORECASE,
)
RELIEF_OWNERSHIP_ES = re.compile(
    r"\bnuestr[oa]s? (propi[oa]s? )?(tratamiento|RELIEF)\b|\btratamiento propio\b|\bpropi[oa] de la clínica\b"
    r"|\bdesarrollad[oa]s? por\b|\bexclusiv[oa]s?\b",
    re.IGNORECASE,
)
ENGLISH_LEFTOVERS = re.compile(r"\b(the|and|you|your|please|call|reply|with|for)\b", re.IGNORECASE)
# Only forms that cannot be usted ("envía", "llama" are also "usted envía", "se llama").
INFORMAL_YOU = re.compile(r"\b(tú|tu|tus|te|contigo|tienes|puedes|quieres|necesitas|sientes|estás|eres)\b")
MISSING_ACCENTS = re.compile(
    r"\b(clinica|informacion|medicos?|tambien|despues|aqui|cirugia|investigacion|articulacion"
    r"|cartilago|vertebra|sintomas|numero|telefono|electronico|mas|dia|ultima|rapido|facil)\b"
)
FIGURE = re.compile(r"\d+(?:\.\d+)?")


def load_responses() -> Dict[str, List[Dict[str, Any]]]:
    return yaml.safe_load(DOMAIN_PATH.read_text(encoding="utf-8"))["responses"]


def load_topic_specs() -> Dict[str, Dict[str, str]]:
    return yaml.safe_load(TOPICS_PATH.read_text(encoding="utf-8"))


RESPONSES = load_responses()
NAMES = sorted(RESPONSES)


def is_spanish(variant: Dict[str, Any]) -> bool:
    return variant.get("condition") == SPANISH_CONDITION


def english(name: str) -> Dict[Optional[str], Dict[str, Any]]:
    """The English variants of a response by channel (None: the default one)."""
    return {v.get("channel"): v for v in RESPONSES[name] if not v.get("condition")}


def spanish(name: str) -> Dict[Optional[str], Dict[str, Any]]:
    return {v.get("channel"): v for v in RESPONSES[name] if is_spanish(v)}


def pairs() -> List[Tuple[str, Optional[str]]]:
    return [(name, channel) for name in NAMES for channel in english(name)]


PAIRS = pairs()
PAIR_IDS = [f"{name}-{channel or 'default'}" for name, channel in PAIRS]
SPANISH_TEXTS = [
    (f"{name}-{v.get('channel') or 'default'}", v) for name in NAMES for v in RESPONSES[name] if is_spanish(v)
]
SPANISH_IDS = [label for label, _ in SPANISH_TEXTS]


# --- structure ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_each_english_variant_has_one_spanish_variant_on_its_channel(name):
    variants = RESPONSES[name]
    assert all(not v.get("condition") or is_spanish(v) for v in variants), f"{name}: unexpected condition"
    english_channels = [v.get("channel") for v in variants if not v.get("condition")]
    spanish_channels = [v.get("channel") for v in variants if is_spanish(v)]
    assert len(set(english_channels)) == len(english_channels), f"{name}: two English variants on a channel"
    assert sorted(spanish_channels, key=str) == sorted(english_channels, key=str), name
    # Spanish ones come right after the English ones (the first variant stays the English default,
    # which code such as bot/channels/common.py and actions/faq_more.py reads).
    kinds = [is_spanish(v) for v in variants]
    assert kinds == sorted(kinds), f"{name}: English and Spanish variants are interleaved"
    assert variants[0].get("channel") is None and not variants[0].get("condition")


@pytest.mark.parametrize("name, channel", PAIRS, ids=PAIR_IDS)
def test_spanish_buttons_match_the_english_ones(name, channel):
    topics = load_topic_specs()
    question_es = {spec["question"]: spec["question_es"] for spec in topics.values()}
    english_buttons = english(name)[channel].get("buttons", [])
    spanish_buttons = spanish(name)[channel].get("buttons", [])
    assert len(spanish_buttons) == len(english_buttons), name
    for en, es in zip(english_buttons, spanish_buttons, strict=True):
        payload = en["payload"]
        if payload.startswith("/"):
            assert es["payload"] == payload, f"{name}: {es['payload']!r} should stay {payload!r}"
        elif payload in question_es:
            assert es["payload"] == question_es[payload], f"{name}: {es['payload']!r}"
        else:
            assert es["payload"] == SPANISH_PAYLOADS[payload], f"{name}: {es['payload']!r}"
        assert es["title"].strip() and len(es["title"]) <= MAX_OPTION_REPLY_CHARS, es["title"]
    if english_buttons:
        assert [b["title"] for b in spanish_buttons] != [b["title"] for b in english_buttons], name


def test_the_slash_payload_rule_sees_the_booking_buttons():
    slash = {b["payload"] for name, channel in PAIRS for b in spanish(name)[channel].get("buttons", [])}
    assert {"/book_appointment", "/affirm", "/deny"} <= slash
    assert "omitir" in slash and "¿Qué es el PRP?" in slash


# --- Rasa's own choice of variant -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rasa_domain() -> Domain:
    return Domain.load(str(DOMAIN_PATH))


def tracker_in(domain: Domain, language: Optional[str]) -> DialogueStateTracker:
    """A conversation whose `language` slot is `language` (None: never set, the initial value)."""
    tracker = DialogueStateTracker("parity-test", domain.slots)
    if language is not None:
        tracker.update(SlotSet("language", language))
    return tracker


def generate(domain: Domain, name: str, language: Optional[str], channel: str) -> Dict[str, Any]:
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    message = asyncio.run(nlg.generate(name, tracker_in(domain, language), channel))
    assert message is not None, name
    return message


def test_the_language_slot_is_categorical_en_es_and_starts_in_english(rasa_domain):
    [slot] = [slot for slot in rasa_domain.slots if slot.name == "language"]
    assert slot.initial_value == "en" and not slot.influence_conversation
    assert [value.lower() for value in slot.values if value != "__other__"] == ["en", "es"]
    # set by bot/language_policy.py, not from an entity (tests/test_language.py says why)
    assert slot.mappings == [{"type": "custom"}]
    assert tracker_in(rasa_domain, None).get_slot("language") == "en"


@pytest.mark.parametrize("channel", [*SCREEN_CHANNELS, SMS, WHATSAPP])
@pytest.mark.parametrize("language", [None, "en"])
def test_an_english_conversation_gets_exactly_the_english_texts(rasa_domain, language, channel):
    for name in NAMES:
        variants = english(name)
        expected = variants.get(channel) or variants[None]
        message = generate(rasa_domain, name, language, channel)
        assert message["text"] == expected["text"], f"{name} on {channel}"
        assert message.get("buttons", []) == expected.get("buttons", []), f"{name} on {channel}"


@pytest.mark.parametrize("channel", [*SCREEN_CHANNELS, SMS, WHATSAPP])
def test_a_spanish_conversation_gets_only_the_spanish_texts(rasa_domain, channel):
    english_texts = {v["text"] for variants in RESPONSES.values() for v in variants if not v.get("condition")}
    for name in NAMES:
        variants = spanish(name)
        expected = variants.get(channel) or variants[None]
        message = generate(rasa_domain, name, "es", channel)
        assert message["text"] == expected["text"], f"{name} on {channel}"
        assert message["text"] not in english_texts, f"{name} on {channel}"
        assert message.get("buttons", []) == expected.get("buttons", []), f"{name} on {channel}"


def test_texting_channels_get_their_own_spanish_variant_not_the_default(rasa_domain):
    """The case the selection order makes easy to get wrong: an English sms variant exists, so a
    Spanish default-only response would lose to it on sms."""
    sms_message = generate(rasa_domain, "utter_faq/prp_what", "es", SMS)
    assert sms_message["text"] == spanish("utter_faq/prp_what")[SMS]["text"]
    assert sms_message["text"].endswith(SPANISH_MORE)
    phone = generate(rasa_domain, "utter_ask_booking_phone", "es", WHATSAPP)
    assert phone["text"] == spanish("utter_ask_booking_phone")[WHATSAPP]["text"]


# --- the texts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("label, variant", SPANISH_TEXTS, ids=SPANISH_IDS)
def test_spanish_texts_pass_the_claims_lint(label, variant):
    texts = [variant["text"], *(button["title"] for button in variant.get("buttons", []))]
    for text in texts:
        assert not FORBIDDEN.search(text), f"{label}: {FORBIDDEN.search(text).group(0)!r}"
        assert not DIAGNOSIS.search(text), f"{label} reads as a diagnosis"
        assert not unhedged_repair_claims(text), f"{label}: {unhedged_repair_claims(text)}"
        assert not SPANISH_CLAIMS.search(text), f"{label}: {SPANISH_CLAIMS.search(text).group(0)!r}"
        assert not SPANISH_DIAGNOSIS.search(text), f"{label} reads as a diagnosis"
        for sentence in SENTENCE_END.split(text):
            if SPANISH_REPAIR.search(sentence):
                assert SPANISH_HEDGE.search(sentence), f"{label}: unhedged {sentence!r}"
            if "RELIEF" in sentence:
                assert not RELIEF_OWNERSHIP_ES.search(sentence), f"{label}: {sentence!r}"


@pytest.mark.parametrize("label, variant", SPANISH_TEXTS, ids=SPANISH_IDS)
def test_spanish_texts_are_spanish_usted_and_accented(label, variant):
    text = variant["text"]
    assert not ENGLISH_LEFTOVERS.search(text), f"{label}: {ENGLISH_LEFTOVERS.search(text).group(0)!r}"
    assert not INFORMAL_YOU.search(text), f"{label}: {INFORMAL_YOU.search(text).group(0)!r}"
    assert not MISSING_ACCENTS.search(text), f"{label}: {MISSING_ACCENTS.search(text).group(0)!r}"
    assert "**" not in text and not re.search("[\u2018\u2019\u201c\u201d]", text)


def test_the_spanish_lints_catch_what_they_should():
    for bad in [
        "Un tratamiento probado.",
        "Es un alivio permanente.",
        "Un tratamiento milagroso.",
        "Sin ningún riesgo.",
        "Un tratamiento respaldado por la evidencia.",
    ]:
        assert SPANISH_CLAIMS.search(bad), bad
    assert SPANISH_DIAGNOSIS.search("Con estos síntomas, usted tiene artritis facetaria.")
    assert not SPANISH_DIAGNOSIS.search("Si tiene artritis, consulte a su médico.")
    assert SPANISH_REPAIR.search("El PRP repara el cartílago.")
    assert not SPANISH_HEDGE.search("El PRP repara el cartílago.")
    assert SPANISH_HEDGE.search("Las células pueden ayudar a reparar el tejido.")
    assert RELIEF_OWNERSHIP_ES.search("RELIEF es nuestro tratamiento propio.")
    assert RELIEF_OWNERSHIP_ES.search("Nuestro RELIEF fue desarrollado por la clínica.")
    assert not RELIEF_OWNERSHIP_ES.search("RELIEF es un tratamiento que se ofrece en la clínica.")
    assert MISSING_ACCENTS.search("Llame a la clinica.") and INFORMAL_YOU.search("Si tienes dolor, te ayudo.")
    assert SPANISH_CAVEAT.search("Está en investigación y no está aprobado por la FDA para este uso.")
    assert not SPANISH_CAVEAT.search("Está en investigación y aprobado por la FDA para este uso.")


# --- the same facts, caveats and safety sentences as the English --------------------------------------


@pytest.mark.parametrize("name, channel", PAIRS, ids=PAIR_IDS)
def test_spanish_keeps_the_figures_and_the_safety_sentences(name, channel):
    en, es = english(name)[channel]["text"], spanish(name)[channel]["text"]
    assert Counter(FIGURE.findall(es)) == Counter(FIGURE.findall(en)), f"{name}: figures differ"
    if EMERGENCY_ADVICE in en:
        assert SPANISH_EMERGENCY_ADVICE in es, name
    if RED_FLAG_ADVICE in en.lower():
        assert SPANISH_RED_FLAG_ADVICE.search(es), name
    if "offered at the clinic" in en:
        assert "se ofrece en la clínica" in es, name
    if "the clinic describes it as" in en.lower():
        assert "la clínica lo describe como" in es.lower(), name
    if "not approved by the FDA" in en:
        assert SPANISH_CAVEAT.search(es), name
    if "results vary" in en:
        assert "resultados varían" in es, name


@pytest.mark.parametrize("topic", REGENERATIVE_TOPICS)
def test_spanish_regenerative_answers_say_investigational_and_not_fda_approved(topic):
    variants = spanish(f"utter_faq/{topic}")
    assert set(variants) == {None, SMS}
    for variant in variants.values():
        assert "investigación" in variant["text"] and "FDA" in variant["text"]
        assert SPANISH_CAVEAT.search(variant["text"]), topic
        assert "resultados varían" in variant["text"], topic


@pytest.mark.parametrize(
    "topic, figures",
    [
        ("prp_evidence", ["78 pacientes", "2024", "JAAOS", "Orthopedic Reviews", "hasta un año"]),
        ("prp_what", ["TGF-beta, PDGF y VEGF", "una sola inyección busca desencadenar una respuesta"]),
        ("prp_procedure", ["centrífuga", "tomografía computarizada o ultrasonido"]),
        ("adrc", ["37 pacientes", "de 6.8 a aproximadamente 1.4 en cinco años", "50-100 mL",
                  "Journal of Personalized Medicine", "Oswestry"]),
        ("bone_marrow_msc", ["10 millones de BM-MSC por articulación", "61 años", "Mayo Clinic", "2024",
                             "dos años", "fase 1"]),
        ("radiofrequency_ablation", ["de seis meses a un año"]),
        ("facet_symptoms", ["dolor crónico de espalda o de cuello"]),
        ("relief_treatment", ["fascia", "hidrodisección", "amnios", "presión sobre las articulaciones facetarias",
                              "un tratamiento mínimamente invasivo que se ofrece en la clínica"]),
        ("regenerative_overview", ["tratamientos conservadores", "un tratamiento que se ofrece en la clínica"]),
        ("candidacy", ["no puede decir quién es candidato", "tratamientos conservadores"]),
    ],
)  # fmt: skip
def test_spanish_answers_keep_the_articles_facts(topic, figures):
    text = spanish(f"utter_faq/{topic}")[None]["text"]
    for figure in figures:
        assert figure in text, f"{topic} lost {figure!r}"


def test_spanish_emergency_answer_says_911_first_and_988():
    [variant] = spanish("utter_emergency").values()
    assert variant["text"].startswith("Llame al 911")
    assert "sala de emergencias" in variant["text"]
    assert "llame o envíe un mensaje de texto al 988" in variant["text"]


def test_spanish_greeting_has_the_disclaimer():
    variants = spanish("utter_greet")
    assert set(variants) == {None, SMS}
    for variant in variants.values():
        for phrase in ["asistente automatizado", "consejos médicos", "diagnóstico", "llame al 911"]:
            assert phrase in variant["text"], phrase


# --- texting limits --------------------------------------------------------------------------------


def sent_as_text(variant: Dict[str, Any], bold: str = "") -> str:
    """The Spanish message as the texting channels send it, options menu ("Responda 1 para ...") included."""
    options = options_from_buttons(variant.get("buttons"))
    return render(variant.get("text", ""), options, bold=bold, language="es")


@pytest.mark.parametrize("name", [name for name in NAMES if SMS in english(name)])
def test_spanish_sms_fit_four_ucs2_segments_and_offer_more_like_the_english(name):
    en, es = english(name)[SMS], spanish(name)[SMS]
    assert ucs2_units(sent_as_text(es)) <= SPANISH_SMS_MAX_CHARS, f"{name}: {ucs2_units(sent_as_text(es))}"
    assert en["text"].endswith(ENGLISH_MORE) == es["text"].endswith(SPANISH_MORE), name
    assert "MORE" not in es["text"]


@pytest.mark.parametrize("name", [name for name in NAMES if SMS not in english(name)])
def test_spanish_answers_without_an_sms_variant_fit_four_ucs2_segments_too(name):
    """SMS sends them the default (screen) variant, e.g. the emergency answer."""
    sent = sent_as_text(spanish(name)[None])
    assert ucs2_units(sent) <= SPANISH_SMS_MAX_CHARS, f"{name}: {ucs2_units(sent)}"


def test_every_long_faq_answer_has_a_spanish_sms_that_offers_more():
    for topic in FAQ_TOPICS:
        if english(f"utter_faq/{topic}")[SMS]["text"].endswith(ENGLISH_MORE):
            assert spanish(f"utter_faq/{topic}")[SMS]["text"].endswith(SPANISH_MORE), topic


@pytest.mark.parametrize("name", [name for name in NAMES if WHATSAPP in english(name)])
def test_spanish_whatsapp_fits_one_message(name):
    assert 0 < len(sent_as_text(spanish(name)[WHATSAPP], bold="*")) <= WHATSAPP_MAX_CHARS


# --- topics ------------------------------------------------------------------------------------------


def test_every_topic_has_a_spanish_title_and_question():
    topics = load_topic_specs()
    assert sorted(topics) == sorted(FAQ_TOPICS)
    for name, spec in topics.items():
        title, question = spec.get("title_es", ""), spec.get("question_es", "")
        assert title.strip() and question.strip(), name
        assert len(title) <= MAX_OPTION_REPLY_CHARS, f"{name}: title_es too long for a texting reply"
        assert title != spec["title"] and question != spec["question"], name
        assert not ENGLISH_LEFTOVERS.search(question) and not MISSING_ACCENTS.search(question), name
        if question.endswith("?"):
            assert question.startswith("¿"), name
