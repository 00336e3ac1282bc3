"""SMS segments counted as carriers (and Twilio's bill) count them, and SMS parts sized by them:
GSM-7 160/153 septets with two for an extension character, UCS-2 70/67 UTF-16 code units with two
for an emoji, no character split between segments (bot/channels/texting.py)."""

from __future__ import annotations

import pytest

from bot.channels.texting import (
    SMS_MAX_CHARS,
    SMS_MAX_SEGMENTS,
    Option,
    fits_sms,
    is_gsm7,
    numbered_options,
    render,
    sms_segments,
    split_sms,
    ucs2_segments,
    ucs2_units,
)

EMOJI = "\U0001f600"


@pytest.mark.parametrize(
    "text, segments",
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        # Extension characters take two septets: 80 of them fill one segment, 81 need two.
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("a" * 159 + "[", 2),
        # ñ, é, ü, ¿, ¡ are GSM-7; á, í, ó, ú are not and turn the whole text into UCS-2.
        ("ñ" * 160, 1),
        ("¿" * 161, 2),
        ("á" * 70, 1),
        ("á" * 71, 2),
        ("á" * 134, 2),
        ("á" * 135, 3),
        ("á" * 268, 4),
        ("á" * 269, 5),
        ("a" * 69 + "ó", 1),
        ("a" * 70 + "ó", 2),
        # An emoji is two UTF-16 code units.
        (EMOJI * 35, 1),
        (EMOJI * 36, 2),
        ("a" * 68 + EMOJI, 1),
        ("a" * 69 + EMOJI, 2),
    ],
)
def test_segments_are_counted_exactly(text, segments):
    assert sms_segments(text) == segments


def test_no_character_is_split_between_two_segments():
    # 152 septets then an escape (2): it cannot share the first segment's last septet.
    assert sms_segments("a" * 152 + "€" + "a" * 152) == 3  # 153 + 153 would fit split, whole it does not
    assert sms_segments("a" * 151 + "€" + "a" * 153) == 2
    # 66 units then an emoji (2) in a concatenated UCS-2 text: the emoji starts the next segment.
    assert sms_segments("á" * 66 + EMOJI + "á" * 66) == 3
    assert sms_segments("á" * 65 + EMOJI + "á" * 67) == 2


def test_encodings_and_units():
    assert is_gsm7("¡Hola! ¿Qué tal? Mañana, señor Núñez.") is False  # ú
    assert is_gsm7("¡Hola! ¿Qué tal? Mañana, señor.") is True
    assert ucs2_units("á" + EMOJI) == 3


def test_the_budgets_are_two_gsm7_segments_in_english_and_four_ucs2_segments_in_spanish():
    assert SMS_MAX_SEGMENTS == {"en": 2, "es": 4}
    assert SMS_MAX_CHARS == 306
    assert fits_sms("a" * 306, "en") and not fits_sms("a" * 307, "en")
    assert not fits_sms("á" * 135, "en")  # English with a stray accent: two UCS-2 segments only
    assert fits_sms("á" * 268, "es") and not fits_sms("á" * 269, "es")
    # A Spanish part without á/í/ó/ú would be sent in GSM-7, but is still sized in UCS-2 segments:
    # every Spanish part stays within 268 characters.
    assert ucs2_segments("a" * 269) == 5 and sms_segments("a" * 269) == 2
    assert fits_sms("ñ" * 268, "es") and not fits_sms("ñ" * 269, "es")
    assert not fits_sms("a" * 269, None)  # unknown language: the Spanish budget


SPANISH_ANSWER = (
    "La ablación por radiofrecuencia puede usarse si las inyecciones alivian poco. Busca un alivio más "
    "largo al interrumpir señales nerviosas. Puede durar de seis meses a un año, aunque el desgaste "
    "sigue. Pregunte a su médico si le conviene. También puede solicitar una visita en la clínica. "
    "Responda MÁS para ver más."
)


def test_a_spanish_reply_is_split_in_ucs2_segments_within_its_budget():
    assert sms_segments(SPANISH_ANSWER) > 4
    parts = split_sms(SPANISH_ANSWER, "es")
    assert len(parts) == 2
    assert all(not is_gsm7(part) and sms_segments(part) <= 4 for part in parts)
    assert sms_segments(parts[0]) > 2  # the Spanish budget, not the English one
    assert " ".join(parts) == SPANISH_ANSWER


def test_an_english_reply_is_split_in_gsm7_segments_within_its_budget():
    text = " ".join(
        f"Sentence {n} says something useful about facet joints and their care." for n in range(12)
    )
    parts = split_sms(text, "en")
    assert all(is_gsm7(part) and sms_segments(part) <= 2 for part in parts)
    assert " ".join(parts) == text and all(part.endswith(".") for part in parts)


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_sentence_too_long_for_the_budget_is_cut_between_words(language):
    text = "palabra " * 120 + "acción"
    parts = split_sms(text.strip(), language)
    assert len(parts) > 1 and all(fits_sms(part, language) for part in parts)
    assert " ".join(parts).split() == text.split()


def test_options_are_numbered_in_the_reply_language():
    options = [Option("Sí, pedir una cita", "/book_appointment"), Option("No, gracias", "/deny")]
    assert numbered_options(options, "es") == "Responda 1 para Sí, pedir una cita, 2 para No, gracias."
    assert render("¿Le gustaría pedir una cita?", options, language="es").endswith(
        "\nResponda 1 para Sí, pedir una cita, 2 para No, gracias."
    )
    assert numbered_options([Option("Yes", "/affirm")]) == "Reply 1 for Yes."
