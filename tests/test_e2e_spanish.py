"""A whole Spanish conversation over REST, with real servers on loopback: the reply language
follows the patient, the booking form runs in Spanish and lands once, and a Spanish emergency
mid-form gets 911 first, in Spanish. The SMS side: tests/test_e2e_texting.py."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.bookings.store import BookingStore
from tests.test_e2e import say
from tests.test_e2e_booking import wait_for, world  # noqa: F401  (the servers, SMTP and webhook)

pytestmark = pytest.mark.e2e

SPANISH_MONTHS = (
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split()
)


def un_dia_abierto() -> str:
    """A Monday-Thursday at least two days ahead, in Spanish ("3 de diciembre a las 10 am")."""
    day = date.today() + timedelta(days=2)
    while day.weekday() > 3:
        day += timedelta(days=1)
    return f"el {day.day} de {SPANISH_MONTHS[day.month - 1]} a las 10 de la mañana"


def test_a_spanish_greeting_gets_a_spanish_answer_with_911(world):  # noqa: F811
    [greeting, *_] = say(world["servers"], "e2e-es-greet", "hola, buenas tardes")
    assert greeting["text"].startswith("¡Hola!") and "911" in greeting["text"]
    assert {"title": "Pedir una cita", "payload": "/book_appointment"} in greeting["buttons"]


def test_a_spanish_faq_then_a_shared_word_keeps_spanish(world):  # noqa: F811
    servers = world["servers"]
    answer = say(servers, "e2e-es-faq", "¿Qué es el plasma rico en plaquetas y cómo funciona?")[0]["text"]
    assert "plaquetas" in answer and "FDA" in answer
    # "PRP" alone says nothing about the language: the conversation stays in Spanish.
    assert "plaquetas" in say(servers, "e2e-es-faq", "PRP")[0]["text"]
    english = say(servers, "e2e-es-faq", "English please, what is radiofrequency ablation?")[0]["text"]
    assert "six months to a year" in english


def test_a_full_spanish_booking(world):  # noqa: F811
    servers, sender = world["servers"], "e2e-es-booking"
    assert (
        "nombre completo"
        in say(servers, sender, "hola, quiero una cita para el tratamiento RELIEF")[-1]["text"]
    )
    assert "teléfono" in say(servers, sender, "María Pérez")[-1]["text"]
    assert "correo" in say(servers, sender, "(305) 555-0147")[-1]["text"]
    assert "día y hora" in say(servers, sender, "omitir")[-1]["text"]
    messages = say(servers, sender, un_dia_abierto())
    assert messages[0]["text"].startswith("Entendido:") and "interesa" in messages[-1]["text"]
    assert "comunicarse con usted" in say(servers, sender, "RELIEF")[-1]["text"]
    summary = say(servers, sender, "/affirm")
    assert "María Pérez" in summary[0]["text"] and "¿La envío a la clínica?" in summary[0]["text"]
    confirmation = say(servers, sender, "/affirm")[0]["text"]
    assert confirmation.startswith("¡Gracias!")
    store = BookingStore.from_url(world["env"]["DATABASE_URL"])
    [request] = [r for r in store.list() if r.phone == "+13055550147"]
    assert request.reference in confirmation and request.language == "es"
    assert wait_for(
        lambda: any(request.reference in mail and "Spanish" in mail for mail in world["inbox"].messages)
    )


def test_a_spanish_emergency_mid_form_gets_911_first_in_spanish(world):  # noqa: F811
    servers, sender = world["servers"], "e2e-es-emergency"
    say(servers, sender, "quiero pedir una cita por favor")
    say(servers, sender, "Ana Gómez")
    messages = say(servers, sender, "de repente no controlo la orina y tengo las piernas dormidas")
    assert len(messages) == 1 and messages[0]["text"].startswith("Llame al 911")
    assert "nombre completo" not in say(servers, sender, "hola")[0]["text"]
