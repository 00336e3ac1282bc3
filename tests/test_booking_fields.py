"""Booking form answers: good ones are cleaned up, bad ones get a clear reason, nothing crashes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from actions.booking_fields import (
    InvalidAnswer,
    english_label,
    is_read_back_label,
    means_this_number,
    parse_email,
    parse_interest,
    parse_name,
    parse_phone,
    parse_preferred_time,
)
from bot.clinic import parse_settings

CLINIC = parse_settings(
    'name: "C"\nphone: "(305) 555-0100"\nopening_hours:\n'
    "  monday: '09:00-17:00'\n  tuesday: '09:00-17:00'\n  wednesday: '09:00-17:00'\n"
    "  thursday: '09:00-17:00'\n  friday: '09:00-16:00'\n"
)
# Saturday, November 28 2026, 10:00 in Miami
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("America/New_York"))
HOSTILE = [
    "",
    "   ",
    None,
    "x" * 10_000,
    "😀😀",
    "Robert'); DROP TABLE booking_requests;--",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("maria lopez", "maria lopez"),
        ("  Seán  O'Brien-Ruiz ", "Seán O'Brien-Ruiz"),
        ("王伟", "王伟"),
        ("Dr. J. Smith", "Dr. J. Smith"),
    ],
)
def test_names_are_accepted_and_tidied(text, expected):
    assert parse_name(text) == expected


@pytest.mark.parametrize("text", HOSTILE + ["yes", "a", "john123", "call me at 305 555 0100"])
def test_bad_names_are_refused_with_a_reason(text):
    with pytest.raises(InvalidAnswer) as error:
        parse_name(text)
    assert str(error.value)


@pytest.mark.parametrize(
    "text", ["(305) 555-0123", "305.555.0123", "+1 305 555 0123", "3055550123", "1-305-555-0123"]
)
def test_us_phone_numbers_become_e164(text):
    assert parse_phone(text) == "+13055550123"


@pytest.mark.parametrize(
    "text",
    HOSTILE
    + [
        "123",
        "555-0123",
        "+44 20 7946 0958",
        "+52 55 1234 5678",
        "305555012345678",
        "(000) 000-0000",
        "١٢٣٤٥٦٧٨٩٠",
    ],
)
def test_bad_phone_numbers_are_refused_with_a_reason(text):
    with pytest.raises(InvalidAnswer) as error:
        parse_phone(text)
    assert str(error.value)


@pytest.mark.parametrize("text", ["skip", "No", "none", "n/a", "no email"])
def test_email_can_be_skipped(text):
    assert parse_email(text) is None


def test_email_is_normalized():
    assert parse_email(" Maria.Lopez@Example.ORG ") == "Maria.Lopez@example.org"


@pytest.mark.parametrize(
    "text", [t for t in HOSTILE if t and t.strip()] + ["maria@", "@example.org", "maria at example dot org"]
)
def test_bad_emails_are_refused(text):
    with pytest.raises(InvalidAnswer):
        parse_email(text)


@pytest.mark.parametrize(
    "text, label",
    [
        ("next Tuesday afternoon", "Tuesday, December 1, afternoon"),
        ("tuesday", "Tuesday, December 1, any time"),
        ("Monday morning", "Monday, November 30, morning"),
        ("december 3 at 10am", "Thursday, December 3 at 10:00 AM"),
        ("this friday 2:30pm", "Friday, December 4 at 2:30 PM"),
    ],
)
def test_preferred_times_are_understood_and_read_back(text, label):
    assert parse_preferred_time(text, CLINIC, NOW).label() == label


@pytest.mark.parametrize(
    "text, reason",
    [
        ("yesterday", "already passed"),
        ("Sunday", "closed on Sundays"),
        ("tomorrow at 3pm", "closed on Sundays"),
        ("friday 4:30pm", "open 09:00-16:00"),
        ("friday evening", "open 09:00-16:00"),
        ("monday at 7am", "open 09:00-17:00"),
        ("next year", "three months"),
        ("the day after never", "couldn't read"),
    ]
    + [(t, "") for t in HOSTILE],
)
def test_bad_times_are_refused_with_a_reason(text, reason):
    with pytest.raises(InvalidAnswer) as error:
        parse_preferred_time(text, CLINIC, NOW)
    assert reason in str(error.value)


@pytest.mark.parametrize(
    "text, interest",
    [
        ("RELIEF", "RELIEF"),
        ("prp please", "PRP"),
        ("stem cells", "Stem cells"),
        ("not sure", "Not sure"),
        ("idk", "Not sure"),
    ],
)
def test_interest_buttons_and_words(text, interest):
    assert parse_interest(text) == interest


@pytest.mark.parametrize("text", [t for t in HOSTILE if t != "x" * 10_000] + ["pizza"])
def test_unknown_interest_is_refused(text):
    with pytest.raises(InvalidAnswer):
        parse_interest(text)


# --- Spanish ------------------------------------------------------------------------------------

# Monday, November 30 2026, 10:00 in Miami (a weekday, so "mañana" is an open day)
MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.mark.parametrize(
    "text, label_es, label_en",
    [
        (
            "el martes que viene por la tarde",
            "martes 1 de diciembre, por la tarde",
            "Tuesday, December 1, afternoon",
        ),
        ("mañana a las 10", "martes 1 de diciembre a las 10:00 a. m.", "Tuesday, December 1 at 10:00 AM"),
        ("manana a las 10", "martes 1 de diciembre a las 10:00 a. m.", "Tuesday, December 1 at 10:00 AM"),
        (
            "3 de diciembre a las 2pm",
            "jueves 3 de diciembre a las 2:00 p. m.",
            "Thursday, December 3 at 2:00 PM",
        ),
        (
            "el lunes a las 3 de la tarde",
            "lunes 7 de diciembre a las 3:00 p. m.",
            "Monday, December 7 at 3:00 PM",
        ),
        (
            "pasado mañana en la mañana",
            "miércoles 2 de diciembre, por la mañana",
            "Wednesday, December 2, morning",
        ),
        (
            "el miércoles a la una",
            "miércoles 2 de diciembre a la 1:00 p. m.",
            "Wednesday, December 2 at 1:00 PM",
        ),
        (
            "el jueves al mediodía",
            "jueves 3 de diciembre a las 12:00 p. m.",
            "Thursday, December 3 at 12:00 PM",
        ),
        (
            "viernes a las 3 y media",
            "viernes 4 de diciembre a las 3:30 p. m.",
            "Friday, December 4 at 3:30 PM",
        ),
        (
            "el 3 de diciembre a las 2 p. m.",
            "jueves 3 de diciembre a las 2:00 p. m.",
            "Thursday, December 3 at 2:00 PM",
        ),
        ("el próximo martes", "martes 1 de diciembre, a cualquier hora", "Tuesday, December 1, any time"),
        ("1/12 por la mañana", "martes 1 de diciembre, por la mañana", "Tuesday, December 1, morning"),
        ("el jueves temprano", "jueves 3 de diciembre, por la mañana", "Thursday, December 3, morning"),
    ],
)
def test_spanish_times_are_understood_and_read_back_in_spanish(text, label_es, label_en):
    wanted = parse_preferred_time(text, CLINIC, MONDAY, language="es")
    assert wanted.label("es") == label_es
    assert wanted.label("en") == label_en
    assert is_read_back_label(label_es) and is_read_back_label(label_en)
    assert english_label(label_es) == label_en  # what staff read


def test_english_answers_keep_reading_the_same_way_and_numbers_follow_the_language():
    assert (
        parse_preferred_time("next Tuesday afternoon", CLINIC, MONDAY).label()
        == "Tuesday, December 1, afternoon"
    )
    # 1/12 is January 12 to an English speaker, December 1 to a Spanish speaker.
    assert parse_preferred_time("1/12", CLINIC, MONDAY).day.month == 1
    assert parse_preferred_time("1/12", CLINIC, MONDAY, language="es").day.month == 12
    assert english_label("Tuesday, December 1, afternoon") == "Tuesday, December 1, afternoon"
    assert english_label("some other text") == "some other text"
    assert not is_read_back_label("el martes") and not is_read_back_label(None)


@pytest.mark.parametrize(
    "text, reason_es, reason_en",
    [
        ("el domingo", "Los domingos estamos cerrados", "closed on Sundays"),
        ("el sábado por la tarde", "Los sábados estamos cerrados", "closed on Saturdays"),
        ("el viernes a las 4 y media", "Los viernes, nuestro horario es 09:00-16:00", "open 09:00-16:00"),
        ("el martes a las 9 de la noche", "Los martes, nuestro horario es 09:00-17:00", "open 09:00-17:00"),
        ("ayer", "ya pasó", "already passed"),
        ("el día del nunca jamás", "No pude entender esa fecha", "couldn't read"),
    ],
)
def test_bad_spanish_times_are_refused_with_a_reason_in_either_language(text, reason_es, reason_en):
    with pytest.raises(InvalidAnswer) as error:
        parse_preferred_time(text, CLINIC, MONDAY, language="es")
    assert reason_es in error.value.text("es")
    assert reason_en in error.value.text("en") and reason_en in str(error.value)


def test_the_closed_day_answer_lists_the_hours_in_spanish():
    with pytest.raises(InvalidAnswer) as error:
        parse_preferred_time("domingo", CLINIC, MONDAY, language="es")
    assert "lunes a jueves 09:00-17:00, viernes 09:00-16:00" in error.value.text("es")


@pytest.mark.parametrize(
    "text", ["omitir", "Omitir.", "no", "¡No!", "no tengo", "no tengo correo", "sin correo"]
)
def test_email_can_be_skipped_in_spanish(text):
    assert parse_email(text) is None


@pytest.mark.parametrize(
    "text, interest",
    [
        ("no estoy seguro", "Not sure"),
        ("No estoy segura", "Not sure"),
        ("no sé", "Not sure"),
        ("células madre", "Stem cells"),
        ("celulas de grasa", "Stem cells"),
        ("plasma rico en plaquetas", "PRP"),
        ("el tratamiento RELIEF", "RELIEF"),
    ],
)
def test_interest_in_spanish(text, interest):
    assert parse_interest(text) == interest


@pytest.mark.parametrize("text", ["sí", "Si", "este número", "el mismo", "Sí, este número"])
def test_spanish_for_use_this_number(text):
    assert means_this_number(text)


@pytest.mark.parametrize("text", ["hola", "Sí", "gracias"])
def test_spanish_words_are_not_names(text):
    with pytest.raises(InvalidAnswer) as error:
        parse_name(text)
    assert "nombre completo" in error.value.text("es")


def test_every_refusal_has_a_spanish_reason():
    for bad, parse in [
        ("12", parse_phone),
        ("maria@", parse_email),
        ("pizza", parse_interest),
        ("x" * 300, parse_name),
    ]:
        with pytest.raises(InvalidAnswer) as error:
            parse(bad)
        assert error.value.text("es") != error.value.text("en") and error.value.text("es")
