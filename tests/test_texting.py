"""Text-message rendering, sender privacy and texting state, without servers; and every response
in the domain as SMS and WhatsApp would send it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Dict, List

import pytest
import yaml
from sqlalchemy import create_engine

from bot import PROJECT_ROOT
from bot.channels.texting import (
    SMS_MAX_CHARS,
    WHATSAPP_MAX_CHARS,
    Option,
    gsm7_length,
    match_option,
    numbered_options,
    options_from_buttons,
    render,
    split_message,
)
from bot.channels.texting_state import TextingState
from bot.sender_identity import SenderIdentity
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


# --- every response as the texting channels send it ------------------------------------------

RESPONSES: Dict[str, List[dict]] = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))[
    "responses"
]


def variants_for(channel: str, variants: List[dict]) -> List[dict]:
    """What Rasa's NLG picks for an output channel: its own variants if any, else the default ones."""
    own = [variant for variant in variants if variant.get("channel") == channel]
    return own or [variant for variant in variants if not variant.get("channel")]


SMS_VARIANTS = [(name, v) for name, variants in RESPONSES.items() for v in variants_for("sms", variants)]
WHATSAPP_VARIANTS = [
    (name, v) for name, variants in RESPONSES.items() for v in variants_for("whatsapp", variants)
]


@pytest.mark.parametrize("name, variant", SMS_VARIANTS, ids=[name for name, _ in SMS_VARIANTS])
def test_every_sms_response_fits_two_gsm7_segments(name, variant):
    raw = variant.get("text", "") + "".join(button["title"] for button in variant.get("buttons", []))
    assert gsm7_length(raw) is not None, f"{name} has characters outside GSM-7 (emoji, smart quotes?)"
    assert "**" not in raw
    sent = render(variant.get("text", ""), options_from_buttons(variant.get("buttons")))
    assert gsm7_length(sent) <= SMS_MAX_CHARS, f"{name}: {gsm7_length(sent)} characters"


@pytest.mark.parametrize("name, variant", WHATSAPP_VARIANTS, ids=[name for name, _ in WHATSAPP_VARIANTS])
def test_every_whatsapp_response_fits_one_message(name, variant):
    sent = render(variant.get("text", ""), options_from_buttons(variant.get("buttons")), bold="*")
    assert 0 < len(sent) <= WHATSAPP_MAX_CHARS


def test_long_faq_answers_have_a_short_sms_variant_that_offers_more():
    for name, variants in RESPONSES.items():
        if name.startswith("utter_faq/") and len(variants[0]["text"]) > SMS_MAX_CHARS:
            [sms] = [variant for variant in variants if variant.get("channel") == "sms"]
            assert sms["text"].endswith("Reply MORE for details."), name


@pytest.mark.parametrize("topic", REGENERATIVE_TOPICS)
def test_short_regenerative_answers_keep_the_caveats(topic):
    for variant in RESPONSES[f"utter_faq/{topic}"]:
        assert "investigational" in variant["text"] and "not approved by the FDA" in variant["text"]
        assert "results vary" in variant["text"]


def test_emergency_answer_is_the_same_first_words_on_every_channel():
    for channel in ("sms", "whatsapp", "rest"):
        [variant] = variants_for(channel, RESPONSES["utter_emergency"])
        assert variant["text"].startswith("Please call 911")


def test_texts_written_in_actions_are_gsm7():
    """Actions' own sentences reach SMS too (split into parts if long): no emoji or smart quotes."""
    for path in sorted((PROJECT_ROOT / "actions").glob("*.py")) + [
        PROJECT_ROOT / "bot" / "channels" / "twilio.py"
    ]:
        for literal in re.findall(r'"([^"\n]{12,})"', path.read_text(encoding="utf-8")):
            assert gsm7_length(literal) is not None, f"{path.name}: {literal!r}"
