"""Booking actions: validation messages, failure limit, summary, change, cancel, submit once."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet

from actions import booking
from actions.booking import (
    NO_EMAIL,
    ActionBookingSummary,
    ActionCancelBooking,
    ActionChangeBooking,
    ActionStartBooking,
    ActionSubmitBooking,
    ValidateBookingForm,
)
from bot.bookings.store import BookingStore
from bot.clinic import load_clinic_settings
from tests.conftest import make_tracker

ANSWERS = {
    "booking_name": "Maria Lopez",
    "booking_phone": "+13055550123",
    "booking_email": NO_EMAIL,
    "booking_time": "Tuesday, December 1, afternoon",
    "booking_interest": "RELIEF",
    "booking_consent": True,
}


@pytest.fixture
def store(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'bookings.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("BOOKING_SPOOL_DIR", str(tmp_path / "spool"))  # never the real var/
    for name in ("BOOKING_SMTP_HOST", "BOOKING_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    booking.booking_store.cache_clear()
    booking.booking_spool.cache_clear()
    yield BookingStore.from_url(url)
    getattr(booking.booking_store, "cache_clear", lambda: None)()  # a test may have replaced it
    booking.booking_spool.cache_clear()


def summary_tracker(**slots):
    events = [
        {"event": "slot", "name": "booking_stage", "value": "summary", "timestamp": 1700000000.5},
        {"event": "user", "parse_data": {"intent": {"name": "affirm"}}, "input_channel": "rest"},
    ]
    return make_tracker(
        {"intent": {"name": "affirm", "confidence": 1.0}, "text": "yes"},
        events=events,
        slots={**ANSWERS, "booking_stage": "summary", **slots},
    )


def test_a_good_answer_is_kept_and_resets_the_failure_count(dispatcher, domain):
    result = ValidateBookingForm().validate_booking_name(
        "  maria   lopez ", dispatcher, make_tracker(), domain
    )
    assert result == {"booking_name": "maria lopez", "booking_failures": 0.0}
    assert dispatcher.messages == []


def test_a_bad_answer_is_re_asked_with_the_reason(dispatcher, domain):
    result = ValidateBookingForm().validate_booking_phone("12", dispatcher, make_tracker(), domain)
    assert result == {"booking_phone": None, "booking_failures": 1}
    assert "10-digit US phone number" in dispatcher.messages[0]["text"]


def test_three_failed_answers_offer_the_phone_and_end_the_form(dispatcher, domain):
    tracker = make_tracker(slots={"booking_failures": 2.0})
    result = ValidateBookingForm().validate_booking_time("someday maybe", dispatcher, tracker, domain)
    assert result["requested_slot"] is None
    assert load_clinic_settings().phone in dispatcher.messages[0]["text"]


def test_preferred_time_is_read_back(dispatcher, domain):
    result = ValidateBookingForm().validate_booking_time(
        "december 3 at 10am", dispatcher, make_tracker(), domain
    )
    assert result["booking_time"].endswith("December 3 at 10:00 AM")
    assert dispatcher.messages[0]["text"] == f"Got it: {result['booking_time']}."


def test_cleared_slots_are_not_treated_as_answers(dispatcher, domain):
    form = ValidateBookingForm()
    assert form.validate_booking_name(None, dispatcher, make_tracker(), domain) == {"booking_name": None}
    assert form.validate_booking_consent(None, dispatcher, make_tracker(), domain) == {
        "booking_consent": None
    }
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    "slot, value",
    [
        ("booking_email", NO_EMAIL),
        ("booking_time", "Tuesday, December 1, afternoon"),
        ("booking_time", "Thursday, December 3 at 10:00 AM"),
    ],
)
def test_answers_already_given_pass_when_the_form_restarts(dispatcher, domain, slot, value):
    method = getattr(ValidateBookingForm(), f"validate_{slot}")
    assert method(value, dispatcher, make_tracker(), domain) == {slot: value}
    assert dispatcher.messages == []


def test_no_consent_sends_nothing(dispatcher, domain):
    result = ValidateBookingForm().validate_booking_consent(False, dispatcher, make_tracker(), domain)
    assert result["requested_slot"] is None and result["booking_consent"] is False
    assert "haven't sent anything" in dispatcher.messages[0]["text"]


def test_start_clears_old_answers(dispatcher, domain):
    events = ActionStartBooking().run(dispatcher, make_tracker(slots=ANSWERS), domain)
    assert SlotSet("booking_name", None) in events and SlotSet("booking_offered", False) in events
    assert "don't share medical details" in dispatcher.messages[0]["text"]


def test_summary_reads_everything_back_with_three_choices(dispatcher, domain):
    events = ActionBookingSummary().run(dispatcher, make_tracker(slots=ANSWERS), domain)
    text = dispatcher.messages[0]["text"]
    assert "Maria Lopez" in text and "+13055550123" in text and "Tuesday, December 1, afternoon" in text
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == [
        "/affirm",
        "/change_booking",
        "/stop",
    ]
    assert events == [SlotSet("booking_stage", "summary")]


def test_summary_of_an_incomplete_form_just_clears(dispatcher, domain):
    events = ActionBookingSummary().run(
        dispatcher, make_tracker(slots={**ANSWERS, "booking_consent": False}), domain
    )
    assert dispatcher.messages == [] and SlotSet("booking_stage", None) in events


def test_change_without_a_field_asks_which(dispatcher, domain):
    assert (
        ActionChangeBooking().run(
            dispatcher, make_tracker({"intent": {"name": "change_booking"}, "entities": []}), domain
        )
        == []
    )
    payloads = [b["payload"] for b in dispatcher.messages[0]["buttons"]]
    assert '/change_booking{"booking_field": "booking_phone"}' in payloads and "/stop" in payloads


def test_change_a_field_clears_only_that_one_and_resumes_the_form(dispatcher, domain):
    parse = {
        "intent": {"name": "change_booking"},
        "entities": [{"entity": "booking_field", "value": "booking_phone"}],
    }
    events = ActionChangeBooking().run(dispatcher, make_tracker(parse, slots=ANSWERS), domain)
    assert events == [
        SlotSet("booking_phone", None),
        SlotSet("booking_stage", None),
        FollowupAction("booking_form"),
    ]


def test_cancel_ends_the_form_and_forgets_the_answers(dispatcher, domain):
    events = ActionCancelBooking().run(dispatcher, make_tracker(slots=ANSWERS), domain)
    assert events[0] == ActiveLoop(None)
    assert SlotSet("booking_phone", None) in events
    assert "nothing was sent" in dispatcher.messages[0]["text"]


def test_submit_stores_once_and_says_it_is_a_request(dispatcher, domain, store):
    tracker = summary_tracker()
    events = asyncio.run(ActionSubmitBooking().run(dispatcher, tracker, domain))
    asyncio.run(ActionSubmitBooking().run(dispatcher, tracker, domain))  # the same confirmation again
    [stored] = store.list()
    assert stored.name == "Maria Lopez" and stored.email is None and stored.channel == "rest"
    text = dispatcher.messages[0]["text"]
    assert stored.reference in text and "not a confirmed appointment" in text
    assert SlotSet("booking_name", None) in events and SlotSet("last_booking_ref", stored.reference) in events


def test_a_failed_save_is_kept_and_the_patient_is_not_asked_to_repeat(dispatcher, domain, monkeypatch, store):
    class BrokenStore:
        def add(self, *args, **kwargs):
            raise RuntimeError("database is down")

    monkeypatch.setattr(booking, "booking_store", lambda: BrokenStore())
    events = asyncio.run(ActionSubmitBooking().run(dispatcher, summary_tracker(), domain))
    text = dispatcher.messages[0]["text"]
    assert "received your request" in text and "try again" not in text
    assert load_clinic_settings().phone in text
    assert SlotSet("booking_name", None) in events  # done: no "yes" loop on the summary
    assert len(booking.booking_spool()) == 1  # tests/test_booking_spool.py: stored once later


def sms_tracker(text: str, phone: str = "+13055550123", secret: str = "a-test-secret-of-some-length"):
    from bot.sender_identity import SEALED_PHONE_KEY, SenderIdentity

    sealed = SenderIdentity(secret).seal(phone)
    user = {
        "event": "user",
        "text": text,
        "parse_data": {"text": text},
        "metadata": {SEALED_PHONE_KEY: sealed},
    }
    return make_tracker(parse_data={"text": text}, events=[user])


@pytest.mark.parametrize("answer", ["/affirm", "yes", "This number", "same number"])
def test_a_texting_patient_can_use_the_number_they_text_from(dispatcher, domain, monkeypatch, answer):
    monkeypatch.setenv("SENDER_ID_SECRET", "a-test-secret-of-some-length")
    result = ValidateBookingForm().validate_booking_phone(answer, dispatcher, sms_tracker(answer), domain)
    assert result["booking_phone"] == "+13055550123"


def test_the_texting_number_needs_the_right_secret_and_a_typed_number_still_wins(
    dispatcher, domain, monkeypatch
):
    monkeypatch.setenv("SENDER_ID_SECRET", "a-different-secret-entirely")
    result = ValidateBookingForm().validate_booking_phone("yes", dispatcher, sms_tracker("yes"), domain)
    assert result["booking_phone"] is None  # cannot unseal: asked again, nothing invented
    monkeypatch.setenv("SENDER_ID_SECRET", "a-test-secret-of-some-length")
    typed = "(305) 555-0142"
    result = ValidateBookingForm().validate_booking_phone(typed, dispatcher, sms_tracker(typed), domain)
    assert result["booking_phone"] == "+13055550142"


def test_yes_on_the_web_is_not_a_phone_number(dispatcher, domain, monkeypatch):
    monkeypatch.setenv("SENDER_ID_SECRET", "a-test-secret-of-some-length")
    result = ValidateBookingForm().validate_booking_phone("yes", dispatcher, make_tracker(), domain)
    assert result["booking_phone"] is None and "phone" in dispatcher.messages[0]["text"]


def time_answer_tracker(text: str, intent: str, requested_slot: str = "booking_time"):
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.8}}
    return make_tracker(parse_data=parse, slots={"requested_slot": requested_slot})


@pytest.mark.parametrize(
    "text, intent, requested, extracted",
    [
        ("Dec 3 at 10am", "faq", "booking_time", "Dec 3 at 10am"),  # NLU's guess on a date is noise
        ("sunday 3pm", "faq", "booking_time", "sunday 3pm"),  # a closed day: validation will say so
        ("how long does RFA last?", "faq", "booking_time", None),  # a real question mid-form
        ("Dec 3 at 10am", "faq", "booking_name", None),
        ("Dec 3 at 10am", "book_appointment", "booking_time", None),  # the slot mapping takes it
    ],
)
def test_a_day_classified_as_an_faq_still_answers_the_time_question(
    dispatcher, domain, text, intent, requested, extracted
):
    tracker = time_answer_tracker(text, intent, requested)
    result = asyncio.run(ValidateBookingForm().extract_booking_time(dispatcher, tracker, domain))
    assert result.get("booking_time") == extracted


# --- in Spanish: the conversation's `language` slot picks every text ---------------------------

SPANISH = {"language": "es"}


def test_a_bad_answer_is_re_asked_in_spanish(dispatcher, domain):
    result = ValidateBookingForm().validate_booking_phone(
        "12", dispatcher, make_tracker(slots=SPANISH), domain
    )
    assert result == {"booking_phone": None, "booking_failures": 1}
    assert dispatcher.messages[0]["text"].startswith("Por favor, envíe un número de teléfono de EE. UU.")


def test_the_form_gives_up_in_spanish_with_the_phone_and_911(dispatcher, domain):
    tracker = make_tracker(slots={**SPANISH, "booking_failures": 2.0})
    result = ValidateBookingForm().validate_booking_time("algún día", dispatcher, tracker, domain)
    assert result["requested_slot"] is None
    text = dispatcher.messages[0]["text"]
    assert "Si es una emergencia, llame al 911" in text and load_clinic_settings().phone in text


def test_a_spanish_time_is_read_back_in_spanish_and_passes_again_on_restart(dispatcher, domain):
    form, tracker = ValidateBookingForm(), make_tracker(slots=SPANISH)
    result = form.validate_booking_time("3 de diciembre a las 10", dispatcher, tracker, domain)
    assert result["booking_time"].endswith("3 de diciembre a las 10:00 a. m.")
    assert dispatcher.messages[0]["text"] == f"Entendido: {result['booking_time']}."
    assert form.validate_booking_time(result["booking_time"], dispatcher, tracker, domain) == {
        "booking_time": result["booking_time"]
    }


def test_skip_in_spanish_leaves_the_email_out(dispatcher, domain):
    result = ValidateBookingForm().validate_booking_email(
        "omitir", dispatcher, make_tracker(slots=SPANISH), domain
    )
    assert result == {"booking_email": NO_EMAIL, "booking_failures": 0.0}


def test_start_and_no_consent_in_spanish(dispatcher, domain):
    ActionStartBooking().run(dispatcher, make_tracker(slots=SPANISH), domain)
    ValidateBookingForm().validate_booking_consent(False, dispatcher, make_tracker(slots=SPANISH), domain)
    start, refused = (message["text"] for message in dispatcher.messages)
    assert "no comparta detalles médicos" in start and "'cancelar la solicitud'" in start
    assert "no he enviado nada" in refused and load_clinic_settings().phone in refused


SPANISH_ANSWERS = {
    **ANSWERS,
    "booking_time": "martes 1 de diciembre, por la tarde",
    "booking_interest": "Not sure",
    **SPANISH,
}


def test_the_summary_reads_everything_back_in_spanish(dispatcher, domain):
    ActionBookingSummary().run(dispatcher, make_tracker(slots=SPANISH_ANSWERS), domain)
    [message] = dispatcher.messages
    assert message["text"].splitlines() == [
        "Esta es su solicitud:",
        "Nombre: Maria Lopez",
        "Teléfono: +13055550123",
        "Correo electrónico: no indicado",
        "Día y hora preferidos: martes 1 de diciembre, por la tarde",
        "Interés: Sin decidir",
        "¿La envío a la clínica?",
    ]
    assert [(b["title"], b["payload"]) for b in message["buttons"]] == [
        ("Enviar solicitud", "/affirm"),
        ("Cambiar algo", "/change_booking"),
        ("No enviar", "/stop"),
    ]


def test_change_and_cancel_in_spanish(dispatcher, domain):
    ActionChangeBooking().run(
        dispatcher,
        make_tracker({"intent": {"name": "change_booking"}, "entities": []}, slots=SPANISH),
        domain,
    )
    ActionCancelBooking().run(dispatcher, make_tracker(slots=SPANISH_ANSWERS), domain)
    which, cancelled = dispatcher.messages
    assert which["text"] == "¿Qué le gustaría cambiar?"
    assert [b["title"] for b in which["buttons"]][-2:] == ["Interés", "No enviar nada"]
    assert "no se envió nada" in cancelled["text"]


def test_a_spanish_request_is_stored_with_its_language_and_an_english_time_for_staff(
    dispatcher, domain, store
):
    tracker = summary_tracker(**SPANISH_ANSWERS)
    asyncio.run(ActionSubmitBooking().run(dispatcher, tracker, domain))
    [stored] = store.list()
    assert stored.language == "es"
    assert stored.preferred_time == "Tuesday, December 1, afternoon"
    assert "Language: Spanish" in stored.staff_summary()
    text = dispatcher.messages[0]["text"]
    assert text.startswith("¡Gracias! Su solicitud") and stored.reference in text
    assert "no una cita confirmada" in text


def test_an_english_request_is_stored_as_english(dispatcher, domain, store):
    asyncio.run(ActionSubmitBooking().run(dispatcher, summary_tracker(), domain))
    [stored] = store.list()
    assert stored.language == "en" and "Language: English" in stored.staff_summary()


def test_a_failed_save_is_told_in_spanish(dispatcher, domain, monkeypatch, store):
    class BrokenStore:
        def add(self, *args, **kwargs):
            raise RuntimeError("database is down")

    monkeypatch.setattr(booking, "booking_store", lambda: BrokenStore())
    asyncio.run(ActionSubmitBooking().run(dispatcher, summary_tracker(**SPANISH), domain))
    text = dispatcher.messages[0]["text"]
    assert text.startswith("¡Gracias! Recibimos su solicitud") and "no necesita enviarla de nuevo" in text
    [kept] = [booking.booking_spool()._read(path) for path in booking.booking_spool().pending()]
    assert kept[1].language == "es"
