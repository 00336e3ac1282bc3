"""The booking conversation: form validation, summary, submit, change one field, cancel.

The form (`booking_form`) asks one question at a time; `validate_booking_form` checks each answer
with actions/booking_fields.py and re-asks with a reason. After the form: a summary with
send / change / cancel. Submitting stores the request exactly once (bot/bookings/store.py) and
notifies staff in the background. If the database cannot take it, the request is kept in a local
spool (bot/bookings/spool.py) and stored later; the patient is told it was received either way.
Nothing medical is asked.
"""

from __future__ import annotations

import asyncio
import logging
from functools import lru_cache
from typing import Any, Callable, Dict, List, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

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
    reads_as_a_day,
)
from actions.texting import texting_phone
from bot.bookings.model import BookingRequest, new_reference
from bot.bookings.notify import Notifier, notifiers_from_env
from bot.bookings.retry import retry_bookings
from bot.bookings.spool import BookingSpool
from bot.bookings.store import BookingStore
from bot.clinic import load_clinic_settings
from bot.log_privacy import error_summary
from bot.messages import Messages, tracker_language

logger = logging.getLogger(__name__)

FORM_SLOTS = [
    "booking_name",
    "booking_phone",
    "booking_email",
    "booking_time",
    "booking_interest",
    "booking_consent",
]
TEXTS = Messages(
    "booking",
    {
        "give_up": {
            "en": "Sorry, this isn't working well in chat. If this is an emergency, call 911. Otherwise "
            "please call us at {phone} and our staff will book your visit.",
            "es": "Disculpe, esto no está funcionando bien por chat. Si es una emergencia, llame al 911. "
            "De lo contrario, llámenos al {phone} y nuestro personal programará su visita.",
        },
        "got_it": {"en": "Got it: {time}.", "es": "Entendido: {time}."},
        "no_consent": {
            "en": "No problem. We can only take a request if we may contact you about it, so I haven't "
            "sent anything. You can call us at {phone}.",
            "es": "No hay problema. Solo podemos tramitar una solicitud si podemos comunicarnos con usted "
            "sobre ella, así que no he enviado nada. Puede llamarnos al {phone}.",
        },
        # Not "cancel": on SMS that word is a carrier opt-out keyword and would silence the bot. The
        # Spanish phrase is several words, and carriers act on single-word keywords only.
        "start": {
            "en": "Let's request a visit. I'll ask a few short questions (about a minute). Please don't "
            "share medical details here; our staff will talk them through with you. You can type "
            "'never mind' at any time to stop.",
            "es": "Vamos a solicitar una visita. Le haré unas preguntas breves (cerca de un minuto). Por "
            "favor, no comparta detalles médicos aquí; nuestro personal los revisará con usted. Puede "
            "escribir 'cancelar la solicitud' en cualquier momento para detenerse.",
        },
        "summary": {
            "en": "Here is your request:\n{lines}\nShall I send it to the clinic?",
            "es": "Esta es su solicitud:\n{lines}\n¿La envío a la clínica?",
        },
        "send_request": {"en": "Send request", "es": "Enviar solicitud"},
        "change_something": {"en": "Change something", "es": "Cambiar algo"},
        "dont_send": {"en": "Don't send", "es": "No enviar"},
        "change_field": {
            "en": "Sure, let's change your {field}.",
            "es": "Claro, cambiemos este dato: {field}.",
        },
        "which_change": {"en": "What would you like to change?", "es": "¿Qué le gustaría cambiar?"},
        "dont_send_anything": {"en": "Don't send anything", "es": "No enviar nada"},
        "cancelled": {
            "en": "Okay, I've stopped the booking; nothing was sent. Is there anything else you'd like to know?",
            "es": "De acuerdo, detuve la solicitud; no se envió nada. ¿Hay algo más que quiera saber?",
        },
        "submit_failed": {
            "en": "Sorry, something went wrong and your request was not sent. If this is an emergency, "
            "call 911. Otherwise please call us at {phone} and our staff will book your visit.",
            "es": "Disculpe, algo salió mal y su solicitud no se envió. Si es una emergencia, llame al "
            "911. De lo contrario, llámenos al {phone} y nuestro personal programará su visita.",
        },
        "save_failed": {
            "en": "Sorry, we could not save your request just now, so it was not sent. If this is an "
            "emergency, call 911. Otherwise please call us at {phone} and our staff will book your visit.",
            "es": "Disculpe, no pudimos guardar su solicitud en este momento, así que no se envió. Si es "
            "una emergencia, llame al 911. De lo contrario, llámenos al {phone} y nuestro personal "
            "programará su visita.",
        },
        "kept": {
            "en": "Thank you! We have received your request {reference}; it will be sent to our staff in "
            "a few minutes, so there is no need to send it again. It is a request, not a confirmed "
            "appointment: our staff will call you at {phone} to confirm a time. Questions meanwhile? "
            "Call {clinic_phone}.",
            "es": "¡Gracias! Recibimos su solicitud {reference}; se enviará a nuestro personal en unos "
            "minutos, así que no necesita enviarla de nuevo. Es una solicitud, no una cita confirmada: "
            "nuestro personal le llamará al {phone} para confirmar el horario. ¿Tiene preguntas "
            "mientras tanto? Llame al {clinic_phone}.",
        },
        "sent": {
            "en": "Thank you! Your request {reference} has been sent. It is a request, not a confirmed "
            "appointment: our staff will call you at {phone} to confirm a time. Questions meanwhile? "
            "Call {clinic_phone}.",
            "es": "¡Gracias! Su solicitud {reference} fue enviada. Es una solicitud, no una cita "
            "confirmada: nuestro personal le llamará al {phone} para confirmar el horario. ¿Tiene "
            "preguntas mientras tanto? Llame al {clinic_phone}.",
        },
        "clinic_number": {"en": "the clinic's number", "es": "el número de la clínica"},
        # The summary's field names and the values it reads back.
        "booking_name": {"en": "Name", "es": "Nombre"},
        "booking_phone": {"en": "Phone", "es": "Teléfono"},
        "booking_email": {"en": "Email", "es": "Correo electrónico"},
        "booking_time": {"en": "Preferred time", "es": "Día y hora preferidos"},
        "booking_interest": {"en": "Interested in", "es": "Interés"},
        "no_email": {"en": "not given", "es": "no indicado"},
        "Stem cells": {"en": "Stem cells", "es": "Células madre"},
        "Not sure": {"en": "Not sure", "es": "Sin decidir"},
    },
)
FIELD_TITLES = {
    slot: TEXTS.en(slot)
    for slot in ("booking_name", "booking_phone", "booking_email", "booking_time", "booking_interest")
}
NO_EMAIL = "not given"  # a filled slot must not be None; this marks "skipped"
MAX_FAILED_ANSWERS = 3
SUMMARY_STAGE = "summary"


@lru_cache(maxsize=1)
def booking_store() -> BookingStore:
    """Built on first use, not at import (the action server imports every module at start)."""
    return BookingStore.from_url()


@lru_cache(maxsize=1)
def booking_spool() -> BookingSpool:
    return BookingSpool.from_env()


class ValidateBookingForm(FormValidationAction):
    def name(self) -> str:
        return "validate_booking_form"

    def _check(
        self,
        slot: str,
        parse: Callable[[Any], Any],
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
    ) -> Dict[str, Any]:
        if value is None:  # a slot cleared by another action, not an answer
            return {slot: None}
        try:
            parsed = parse(value)
        except InvalidAnswer as problem:
            return self._failed(slot, problem.text(tracker_language(tracker)), dispatcher, tracker)
        return {slot: parsed, "booking_failures": 0.0}

    def _failed(
        self, slot: str, problem: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[str, Any]:
        failures = (tracker.get_slot("booking_failures") or 0) + 1
        if failures >= MAX_FAILED_ANSWERS:
            phone = _clinic_phone(tracker_language(tracker))
            dispatcher.utter_message(text=TEXTS("give_up", tracker_language(tracker), phone=phone))
            # Ending the form: the summary action sees the missing answers and wraps up.
            return {slot: None, "booking_failures": 0.0, "requested_slot": None}
        dispatcher.utter_message(text=problem)
        return {slot: None, "booking_failures": failures}

    def validate_booking_name(self, value: Any, dispatcher, tracker, domain: DomainDict) -> Dict[str, Any]:
        return self._check("booking_name", parse_name, value, dispatcher, tracker)

    def validate_booking_phone(self, value: Any, dispatcher, tracker, domain: DomainDict) -> Dict[str, Any]:
        sender_phone = texting_phone(tracker)
        if sender_phone and means_this_number(value):
            value = sender_phone
        return self._check("booking_phone", parse_phone, value, dispatcher, tracker)

    def validate_booking_email(self, value: Any, dispatcher, tracker, domain: DomainDict) -> Dict[str, Any]:
        if value == NO_EMAIL:  # already answered ("skip"); forms re-validate answers when they restart
            return {"booking_email": NO_EMAIL}
        return self._check("booking_email", lambda v: parse_email(v) or NO_EMAIL, value, dispatcher, tracker)

    async def extract_booking_time(self, dispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        """A day that NLU took for an FAQ ("Dec 3 at 10am" -> candidacy) still answers the question.

        The slot mapping ignores FAQ-classified messages so a question mid-form gets answered;
        dates look like nothing in the training data, so the classifier's guess on them is noise.
        """
        latest = tracker.latest_message or {}
        if (
            tracker.get_slot("requested_slot") != "booking_time"
            or (latest.get("intent") or {}).get("name") != "faq"
        ):
            return {}
        text = latest.get("text")
        return {"booking_time": text} if reads_as_a_day(text, load_clinic_settings()) else {}

    def validate_booking_time(self, value: Any, dispatcher, tracker, domain: DomainDict) -> Dict[str, Any]:
        if is_read_back_label(value):  # our own read-back, re-validated on restart
            return {"booking_time": value}
        language = tracker_language(tracker)
        result = self._check(
            "booking_time",
            lambda v: parse_preferred_time(v, load_clinic_settings(), language=language).label(language),
            value,
            dispatcher,
            tracker,
        )
        if result.get("booking_time"):
            dispatcher.utter_message(text=TEXTS("got_it", language, time=result["booking_time"]))
        return result

    def validate_booking_interest(
        self, value: Any, dispatcher, tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        return self._check("booking_interest", parse_interest, value, dispatcher, tracker)

    def validate_booking_consent(self, value: Any, dispatcher, tracker, domain: DomainDict) -> Dict[str, Any]:
        if value is None:
            return {"booking_consent": None}
        if value is True:
            return {"booking_consent": True, "booking_failures": 0.0}
        language = tracker_language(tracker)
        dispatcher.utter_message(text=TEXTS("no_consent", language, phone=_clinic_phone(language)))
        return {"booking_consent": False, "requested_slot": None}


def booking_answers(tracker: Tracker) -> Dict[str, Any]:
    return {slot: tracker.get_slot(slot) for slot in FORM_SLOTS}


def cleared_booking_slots() -> List[EventType]:
    return [SlotSet(slot, None) for slot in FORM_SLOTS] + [
        SlotSet("booking_stage", None),
        SlotSet("booking_failures", 0.0),
    ]


class ActionStartBooking(Action):
    """Before the form: say what will happen and start from a clean slate."""

    def name(self) -> str:
        return "action_start_booking"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        dispatcher.utter_message(text=TEXTS("start", tracker_language(tracker)))
        return cleared_booking_slots() + [SlotSet("booking_offered", False)]


class ActionBookingSummary(Action):
    """After the form: read everything back with send / change / cancel, or wrap up if incomplete."""

    def name(self) -> str:
        return "action_booking_summary"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        answers = booking_answers(tracker)
        if answers["booking_consent"] is not True or any(answers[s] is None for s in FIELD_TITLES):
            return cleared_booking_slots()  # the form already told the patient why
        language = tracker_language(tracker)
        lines = "\n".join(
            f"{TEXTS(slot, language)}: {shown_value(slot, answers[slot], language)}" for slot in FIELD_TITLES
        )
        dispatcher.utter_message(
            text=TEXTS("summary", language, lines=lines),
            buttons=[
                {"title": TEXTS("send_request", language), "payload": "/affirm"},
                {"title": TEXTS("change_something", language), "payload": "/change_booking"},
                {"title": TEXTS("dont_send", language), "payload": "/stop"},
            ],
        )
        return [SlotSet("booking_stage", SUMMARY_STAGE)]


def shown_value(slot: str, value: Any, language: str) -> str:
    """An answer as the summary reads it back: the skipped email and the interests the form keeps
    in English (for staff) are shown in the conversation's language."""
    if slot == "booking_email" and value == NO_EMAIL:
        return TEXTS("no_email", language)
    if slot == "booking_interest" and value in ("Stem cells", "Not sure"):
        return TEXTS(value, language)
    return str(value)


class ActionChangeBooking(Action):
    """'Change something': ask which answer, then re-ask only that one."""

    def name(self) -> str:
        return "action_change_booking"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        field = next(
            (
                e.get("value")
                for e in tracker.latest_message.get("entities", [])
                if e.get("entity") == "booking_field"
            ),
            None,
        )
        language = tracker_language(tracker)
        if field in FIELD_TITLES:
            dispatcher.utter_message(
                text=TEXTS("change_field", language, field=TEXTS(field, language).lower())
            )
            return [SlotSet(field, None), SlotSet("booking_stage", None), FollowupAction("booking_form")]
        dispatcher.utter_message(
            text=TEXTS("which_change", language),
            buttons=[
                *(
                    {
                        "title": TEXTS(slot, language),
                        "payload": f'/change_booking{{"booking_field": "{slot}"}}',
                    }
                    for slot in FIELD_TITLES
                ),
                {"title": TEXTS("dont_send_anything", language), "payload": "/stop"},
            ],
        )
        return []


class ActionCancelBooking(Action):
    def name(self) -> str:
        return "action_cancel_booking"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        dispatcher.utter_message(text=TEXTS("cancelled", tracker_language(tracker)))
        return [ActiveLoop(None), SlotSet("requested_slot", None)] + cleared_booking_slots()


class ActionSubmitBooking(Action):
    """Stores the request exactly once and tells the patient what happens next.

    Never raises (an exception here would leave the patient with "technical trouble" and the
    conversation stuck): a database that cannot take the request puts it in the spool, and
    anything else ends the booking with the clinic's phone number.
    """

    def name(self) -> str:
        return "action_submit_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        try:
            return await self._submit(dispatcher, tracker)
        except Exception as error:
            logger.error("Submitting a booking request failed (%s)", error_summary(error))
            language = tracker_language(tracker)
            dispatcher.utter_message(text=TEXTS("submit_failed", language, phone=_clinic_phone(language)))
            return cleared_booking_slots()

    async def _submit(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        answers = booking_answers(tracker)
        language = tracker_language(tracker)
        clinic = load_clinic_settings()
        notifiers = notifiers_from_env()
        names = [n.name for n in notifiers]
        key = idempotency_key(tracker)
        request = BookingRequest(
            reference=new_reference(),
            name=answers["booking_name"],
            phone=answers["booking_phone"],
            email=None if answers["booking_email"] in (None, NO_EMAIL) else answers["booking_email"],
            preferred_time=english_label(answers["booking_time"]),  # staff read it in English
            interest=answers["booking_interest"],
            consent=answers["booking_consent"] is True,
            channel=(tracker.get_latest_input_channel() or "unknown"),
            language=language,
        )
        try:
            # booking_store() in the thread too: building it the first time touches the database.
            stored, _ = await asyncio.to_thread(lambda: booking_store().add(request, key, names))
        except Exception as error:  # locked, down, unreachable: keep it locally, store it later
            logger.warning(
                "Saving a booking request failed (%s); keeping it in the spool", error_summary(error)
            )
            try:
                kept = await asyncio.to_thread(booking_spool().keep, request, key, names)
            except Exception as spool_error:
                logger.error("Keeping the booking request failed too (%s)", error_summary(spool_error))
                dispatcher.utter_message(text=TEXTS("save_failed", language, phone=clinic.phone))
                return cleared_booking_slots()
            dispatcher.utter_message(
                text=TEXTS(
                    "kept", language, reference=kept.reference, phone=kept.phone, clinic_phone=clinic.phone
                )
            )
            return cleared_booking_slots() + [SlotSet("last_booking_ref", kept.reference)]
        # In the background, so the patient does not wait for SMTP: staff notifications, and any
        # requests kept in the spool earlier (the database is evidently back).
        asyncio.get_running_loop().run_in_executor(None, _catch_up_quietly, notifiers)
        dispatcher.utter_message(
            text=TEXTS(
                "sent", language, reference=stored.reference, phone=stored.phone, clinic_phone=clinic.phone
            )
        )
        return cleared_booking_slots() + [SlotSet("last_booking_ref", stored.reference)]


def _clinic_phone(language: str = "en") -> str:
    try:
        return load_clinic_settings().phone
    except Exception:  # the settings file itself may be what failed
        return TEXTS("clinic_number", language)


def idempotency_key(tracker: Tracker) -> str:
    """Same summary confirmed twice (double click, retried call, replayed message) -> same key."""
    summary_time: Optional[float] = next(
        (
            e.get("timestamp")
            for e in reversed(tracker.events)
            if e.get("event") == "slot"
            and e.get("name") == "booking_stage"
            and e.get("value") == SUMMARY_STAGE
        ),
        None,
    )
    return f"{tracker.sender_id}/{summary_time}"


def _catch_up_quietly(notifiers: List[Notifier]) -> None:
    try:
        retry_bookings(booking_store(), booking_spool(), notifiers)
    except Exception as error:
        logger.error("Booking catch-up failed (%s); 'bookings retry' will pick it up", error_summary(error))
