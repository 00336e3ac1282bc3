"""clinic.yml: parsing, readable hours, contact text, and reloading after staff edits."""

from __future__ import annotations

import os
import time

import pytest

from bot import PROJECT_ROOT
from bot.clinic import load_clinic_settings, parse_settings

MINIMAL = 'name: "Test Clinic"\nphone: "(305) 555-0199"\n'


def test_the_shipped_file_is_valid():
    settings = parse_settings((PROJECT_ROOT / "clinic.yml").read_text())
    assert settings.name and settings.phone
    assert settings.hours_text() == "Mon-Thu 09:00-17:00, Fri 09:00-16:00"


def test_missing_phone_is_reported():
    with pytest.raises(ValueError, match="phone"):
        parse_settings('name: "X"\n')


def test_unknown_weekday_is_reported():
    with pytest.raises(ValueError, match="funday"):
        parse_settings(MINIMAL + "opening_hours:\n  funday: '09:00-10:00'\n")


def test_not_a_mapping_is_reported():
    with pytest.raises(ValueError):
        parse_settings("- just a list\n")


def test_contact_text_without_address_asks_to_call():
    text = parse_settings(MINIMAL).contact_text()
    assert "(305) 555-0199" in text
    assert "call us for the address" in text


def test_contact_text_with_address_and_booking_link():
    settings = parse_settings(
        MINIMAL + 'address: "1 Example Way, Miami, FL"\nbooking_url: "https://example.org/b"\n'
    )
    text = settings.contact_text()
    assert "1 Example Way, Miami, FL" in text and "https://example.org/b" in text


def test_non_consecutive_days_are_listed_separately():
    settings = parse_settings(
        MINIMAL + "opening_hours:\n  monday: '09:00-12:00'\n  wednesday: '09:00-12:00'\n"
    )
    assert settings.hours_text() == "Mon 09:00-12:00, Wed 09:00-12:00"


def test_edits_are_picked_up_without_restart(tmp_path, monkeypatch):
    path = tmp_path / "clinic.yml"
    path.write_text(MINIMAL)
    monkeypatch.setenv("CLINIC_SETTINGS", str(path))
    assert load_clinic_settings().phone == "(305) 555-0199"
    path.write_text(MINIMAL.replace("0199", "0142"))
    later = time.time() + 5  # make sure the modification time differs even on coarse clocks
    os.utime(path, (later, later))
    assert load_clinic_settings().phone == "(305) 555-0142"


def test_hours_and_contact_in_spanish():
    settings = parse_settings((PROJECT_ROOT / "clinic.yml").read_text())
    assert settings.hours_text("es") == "lunes a jueves 09:00-17:00, viernes 09:00-16:00"
    assert settings.hours_text("en") == settings.hours_text() == "Mon-Thu 09:00-17:00, Fri 09:00-16:00"
    one_day = parse_settings(
        MINIMAL + "opening_hours:\n  saturday: '09:00-12:00'\n  wednesday: '10:00-11:00'\n"
    )
    assert one_day.hours_text("es") == "miércoles 10:00-11:00, sábado 09:00-12:00"
    text = parse_settings(MINIMAL).contact_text("es")
    assert text.splitlines() == [
        "Puede comunicarse con Test Clinic al (305) 555-0199.",
        "Llámenos para pedir la dirección y cómo llegar.",
    ]
    full = parse_settings(
        MINIMAL + 'address: "1 Example Way, Miami, FL"\nbooking_url: "https://example.org/b"\n'
    )
    assert "Dirección: 1 Example Way, Miami, FL." in full.contact_text("es")
    assert "Solicite una cita en línea: https://example.org/b" in full.contact_text("es")


def test_weekday_and_month_names():
    from bot.clinic import month_name, weekday_name

    assert [weekday_name(day, "es") for day in (2, 5)] == ["miércoles", "sábado"]
    assert weekday_name(0) == "Monday" and month_name(12, "es") == "diciembre" and month_name(1) == "January"
