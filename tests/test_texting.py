"""Text-message rendering, sender privacy and texting state, without servers; and every response
in the domain as SMS and WhatsApp would send it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Dict, List, Tuple

import pytest
import yaml
from rasa.core.nlg.generator import ResponseVariationFilter
from sqlalchemy import create_engine

from bot import PROJECT_ROOT
from bot.channels.texting import (
    PLAIN_TYPOGRAPHY,
    SMS_MAX_CHARS,
    SMS_MAX_SEGMENTS,
    WHATSAPP_MAX_CHARS,
    Option,
    fits_sms,
    gsm7_length,
    match_option,
    numbered_options,
    options_from_buttons,
    render,
    sms_segments,
    split_message,
    ucs2_segments,
    ucs2_units,
)
from bot.channels.texting_state import TextingState
from bot.messages import all_texts
from bot.sender_identity import SenderIdentity
from tests.test_messages import import_every_message_table
from tests.test_responses import REGENERATIVE_TOPICS

YES_NO = [Option("Yes", "/affirm"), Option("No, thanks", "/deny")]


def test_buttons_become_numbered_options_and_payloads_stay_hidden():
    text = render("Shall I book?", YES_NO)
    assert text == "Shall I book?\nReply 1 for Yes, 2 for No, thanks."
    assert "/affirm" not in text and numbered_options([]) == ""


@pytest.mark.parametrize(
    "reply, payload",
    [("1", "/affirm"), (" 2 ", "/deny"), ("2.", "/deny"), ("#1", "/affirm"), ("yes", "/affirm"),
     ("YES!", "/affirm"), ("no thanks", "/deny"), ("3", None), ("0", None), ("maybe", None), ("12 pm", None)],
)  # fmt: skip
def test_a_reply_picks_an_option_by_number_or_title(reply, payload):
    assert match_option(reply, YES_NO) == payload


def test_no_options_means_no_match():
    assert match_option("1", []) is None


def test_markdown_bold_and_typography():
    assert render("**Important:** it\u2019s \u201cfine\u201d \u2014 really\u2026", [], bold="*") == (
        '*Important:* it\'s "fine" - really...'
    )
    assert render("**Important**", []) == "Important"


def test_spanish_passes_through_unchanged():
    spanish = "¡Hola! ¿Dónde está la clínica? Mañana, señor Núñez."
    assert render(spanish, []) == spanish
    assert split_message(spanish, SMS_MAX_CHARS) == [spanish]


def test_gsm7_length_counts_extension_characters_twice_and_rejects_others():
    assert gsm7_length("¡¿ñé Ñ") == 6
    assert gsm7_length("€[]") == 6
    assert gsm7_length("á") is None and gsm7_length("\U0001f600") is None and gsm7_length("\u2019") is None


def test_long_text_is_split_between_sentences_within_the_limit():
    sentences = [f"Sentence number {n} says something useful about facet joints." for n in range(20)]
    parts = split_message(" ".join(sentences), 160)
    assert all(len(part) <= 160 for part in parts)
    assert " ".join(parts) == " ".join(sentences)
    assert all(part.endswith(".") for part in parts)


def test_a_sentence_longer_than_the_limit_is_cut_between_words():
    parts = split_message("word " * 100, 50)
    assert all(0 < len(part) <= 50 for part in parts) and " ".join(parts).split() == ["word"] * 100


def test_conversation_ids_are_keyed_hashes_and_phones_seal_round_trip():
    identity = SenderIdentity("a-test-secret-of-some-length")
    other = SenderIdentity("another-secret-of-some-length")
    cid = identity.conversation_id("sms", "+13055550123")
    assert cid.startswith("sms-") and "3055550123" not in cid
    assert cid == identity.conversation_id("sms", "+13055550123")
    assert cid != identity.conversation_id("whatsapp", "+13055550123")
    assert cid != other.conversation_id("sms", "+13055550123")
    sealed = identity.seal("+13055550123")
    assert "3055550123" not in sealed and identity.unseal(sealed) == "+13055550123"
    assert other.unseal(sealed) is None and identity.unseal("not a token") is None
    with pytest.raises(ValueError):
        SenderIdentity("short")


def test_the_action_server_does_not_import_the_channel_package():
    """actions/ runs in the action server, which must not depend on the Rasa server's channels
    (the sealed texting number is read through bot.sender_identity)."""
    imports_every_action = (
        "import importlib, pkgutil, sys, actions\n"
        "for module in pkgutil.iter_modules(actions.__path__):\n"
        "    importlib.import_module('actions.' + module.name)\n"
        "print(sorted(name for name in sys.modules if name.startswith('bot.channels')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", imports_every_action],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request, tmp_path):
    if request.param == "sqlite":
        yield TextingState(create_engine(f"sqlite:///{tmp_path / 'clinic.db'}", future=True))
    else:
        url = request.getfixturevalue("postgres_url")
        yield TextingState(create_engine(url, future=True))


def test_a_message_id_is_claimed_once(state):
    assert state.claim_message("SM1") is True
    assert state.claim_message("SM1") is False
    assert state.claim_message("SM2") is True


def test_opt_out_holds_until_opt_in(state):
    assert not state.is_opted_out("sms-abc")
    state.opt_out("sms-abc")
    state.opt_out("sms-abc")  # a second STOP is harmless
    assert state.is_opted_out("sms-abc") and not state.is_opted_out("sms-other")
    state.opt_in("sms-abc")
    assert not state.is_opted_out("sms-abc")


def test_old_message_ids_are_forgotten(state):
    from datetime import datetime, timedelta, timezone

    state.claim_message("SM-old")
    assert state.forget_handled_before(datetime.now(timezone.utc) + timedelta(seconds=1)) >= 1
    assert state.claim_message("SM-old") is True


# --- every response as the texting channels send it, in each reply language -------------------

RESPONSES: Dict[str, List[dict]] = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))[
    "responses"
]
LANGUAGES = ("en", "es")
# Spanish letters and marks outside GSM-7 that Spanish keeps (policy: accents are not stripped).
SPANISH_UCS2 = str.maketrans("", "", "áíóúÁÍÓÚ")


def variant_language(variant: dict) -> str:
    """A Spanish variant is one with a condition on the slot language=es; the others are English."""
    for condition in variant.get("condition") or []:
        if condition.get("name") == "language" and condition.get("value") == "es":
            return "es"
    return "en"


def variants_for(channel: str, language: str, variants: List[dict], name: str = "") -> List[dict]:
    """What Rasa's NLG picks for an output channel in a conversation whose `language` slot is
    `language` (its own ResponseVariationFilter: conditional and channel variants first)."""
    return ResponseVariationFilter({name: variants}).responses_for_utter_action(
        name, channel, {"language": language}
    )


def sent_variants(channel: str) -> List[Tuple[str, str, dict]]:
    """(response, language of the variant, variant) for every variant a conversation in English or
    Spanish can get on `channel`, each once."""
    found: List[Tuple[str, str, dict]] = []
    for name, variants in RESPONSES.items():
        seen: List[int] = []
        for language in LANGUAGES:
            for variant in variants_for(channel, language, variants, name):
                if id(variant) not in seen:
                    seen.append(id(variant))
                    found.append((name, variant_language(variant), variant))
    return found


SMS_VARIANTS = sent_variants("sms")
WHATSAPP_VARIANTS = sent_variants("whatsapp")


def as_sent(variant: dict, language: str, bold: str = "") -> str:
    options = options_from_buttons(variant.get("buttons"))
    return render(variant.get("text", ""), options, bold=bold, language=language)


@pytest.mark.parametrize(
    "name, language, variant", SMS_VARIANTS, ids=[f"{name}-{lang}" for name, lang, _ in SMS_VARIANTS]
)
def test_every_sms_response_fits_its_languages_segments(name, language, variant):
    """English: GSM-7 only, within two segments. Spanish: its accents may make it UCS-2, within
    four segments; nothing else outside GSM-7 (emoji, smart quotes)."""
    raw = variant.get("text", "") + "".join(button["title"] for button in variant.get("buttons", []))
    allowed = raw if language == "en" else raw.translate(SPANISH_UCS2)
    assert gsm7_length(allowed) is not None, f"{name} has characters outside GSM-7 (emoji, smart quotes?)"
    assert "**" not in raw
    sent = as_sent(variant, language)
    segments = sms_segments(sent) if language == "en" else ucs2_segments(sent)
    assert fits_sms(sent, language), (
        f"{name} ({language}): {segments} {'GSM-7' if language == 'en' else 'UCS-2'} segments, "
        f"{SMS_MAX_SEGMENTS[language]} allowed ({gsm7_length(sent) if language == 'en' else ucs2_units(sent)}"
        f" {'septets' if language == 'en' else 'UCS-2 units'})"
    )


@pytest.mark.parametrize(
    "name, language, variant",
    WHATSAPP_VARIANTS,
    ids=[f"{name}-{lang}" for name, lang, _ in WHATSAPP_VARIANTS],
)
def test_every_whatsapp_response_fits_one_message(name, language, variant):
    sent = as_sent(variant, language, bold="*")
    assert 0 < len(sent) <= WHATSAPP_MAX_CHARS


MORE_OFFERS = {"en": "Reply MORE for details.", "es": "MÁS"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_long_faq_answers_have_a_short_sms_variant_that_offers_more(language):
    for name, variants in RESPONSES.items():
        if not name.startswith("utter_faq/"):
            continue
        screen = [v for v in variants if not v.get("channel") and variant_language(v) == language]
        if not screen or fits_sms(as_sent(screen[0], language), language):
            continue
        sms = [v for v in variants if v.get("channel") == "sms" and variant_language(v) == language]
        assert len(sms) == 1, f"{name} ({language}) is too long for SMS and has no SMS variant"
        if language == "en":
            assert sms[0]["text"].endswith(MORE_OFFERS["en"]), name
        else:
            assert MORE_OFFERS["es"] in sms[0]["text"], name


CAVEATS = {
    "en": [r"investigational", r"not approved by the FDA", r"results vary"],
    "es": [r"en investigación", r"no (está |están )?aprobad[oa]s? por la FDA", r"resultados varían"],
}


@pytest.mark.parametrize("topic", REGENERATIVE_TOPICS)
def test_short_regenerative_answers_keep_the_caveats(topic):
    for variant in RESPONSES[f"utter_faq/{topic}"]:
        for caveat in CAVEATS[variant_language(variant)]:
            assert re.search(caveat, variant["text"], re.IGNORECASE), (topic, variant.get("channel"), caveat)


@pytest.mark.parametrize("language", LANGUAGES)
def test_emergency_answer_is_the_same_first_words_on_every_channel(language):
    first_words = {
        channel: " ".join(variant["text"].split()[:4])
        for channel in ("sms", "whatsapp", "rest")
        for variant in variants_for(channel, language, RESPONSES["utter_emergency"], "utter_emergency")
    }
    assert len(set(first_words.values())) == 1, first_words
    if language == "en":
        assert first_words["rest"].startswith("Please call 911")
    assert "911" in first_words["rest"]


def test_texts_written_in_python_fit_their_languages_sms_budget():
    """The sentences actions and channels send (bot/messages.py tables) reach SMS too: English ones
    GSM-7 (no emoji or smart quotes), Spanish ones GSM-7 but for their accents."""
    import_every_message_table()
    for key, language, template in all_texts():
        allowed = template if language == "en" else template.translate(SPANISH_UCS2)
        assert (
            gsm7_length(allowed.translate(PLAIN_TYPOGRAPHY)) is not None
        ), f"{key} ({language}): {template!r}"
