"""Booking form answers: good ones are cleaned up, bad ones get a clear reason, nothing crashes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from actions.booking_fields import (
    InvalidAnswer,
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
