"""Custom actions, run directly with rasa-sdk trackers and a collecting dispatcher."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clarify import (
    REPHRASE,
    ActionClarify,
    consecutive_fallbacks,
    did_you_mean_buttons,
)
from actions.contact import ActionShareContact
from actions.faq_followup import ActionFaqFollowup
from actions.parse_data import faq_topic, ranked_candidates
from bot.clinic import load_clinic_settings
from tests.conftest import faq_parse, make_tracker


@pytest.mark.parametrize("topic", ["relief_treatment", "candidacy", "cost_insurance", "clinic_location"])
def test_followup_offers_booking_after_decision_topics(dispatcher, domain, topic):
    events = ActionFaqFollowup().run(dispatcher, make_tracker(faq_parse(topic)), domain)
    assert events == [SlotSet("booking_offered", True)]
    offer = dispatcher.messages[-1]
    assert {"title": "Yes, book a visit", "payload": "/book_appointment"} in offer["buttons"]


def test_followup_adds_clinic_details_after_location(dispatcher, domain):
    ActionFaqFollowup().run(dispatcher, make_tracker(faq_parse("clinic_location")), domain)
    assert load_clinic_settings().phone in dispatcher.messages[0]["text"]


def test_followup_is_silent_after_other_topics(dispatcher, domain):
    events = ActionFaqFollowup().run(dispatcher, make_tracker(faq_parse("prp_what")), domain)
    assert dispatcher.messages == []
    assert events == [SlotSet("booking_offered", False)]


@pytest.mark.parametrize("intent", ["book_appointment", "human_handoff", "affirm"])
def test_share_contact_gives_phone_and_booking_link(dispatcher, domain, intent):
    tracker = make_tracker({"intent": {"name": intent, "confidence": 0.9}, "text": "x"})
    events = ActionShareContact().run(dispatcher, tracker, domain)
    clinic = load_clinic_settings()
    assert clinic.phone in dispatcher.messages[0]["text"]
    assert clinic.booking_url in dispatcher.messages[0]["text"]
    assert events == [SlotSet("booking_offered", False)]


def close_call_parse() -> dict:
    return {
        "text": "prp stuff",
        "intent": {"name": "nlu_fallback", "confidence": 0.4},
        "intent_ranking": [
            {"name": "nlu_fallback", "confidence": 0.4},
            {"name": "faq", "confidence": 0.9},
            {"name": "out_of_scope", "confidence": 0.05},
        ],
        "response_selector": {
            "faq": {
                "response": {"intent_response_key": "faq/prp_what", "confidence": 0.5},
                "ranking": [
                    {"intent_response_key": "faq/prp_what", "confidence": 0.5},
                    {"intent_response_key": "faq/prp_procedure", "confidence": 0.4},
                ],
            }
        },
    }


def test_ranked_candidates_expand_faq_into_topics():
    ranked = ranked_candidates(close_call_parse())
    assert [name for name, _ in ranked[:3]] == [
        "faq/prp_what",
        "faq/prp_procedure",
        "out_of_scope",
    ]
    assert ranked[0][1] == pytest.approx(0.45)


def test_faq_topic_reads_the_response_selector():
    assert faq_topic(faq_parse("adrc")) == "adrc"
    assert faq_topic({"intent": {"name": "greet"}}) is None


def test_close_guesses_become_did_you_mean_buttons(dispatcher, domain):
    ActionClarify().run(dispatcher, make_tracker(close_call_parse()), domain)
    message = dispatcher.messages[0]
    assert message["text"].startswith("I want to be sure")
    payloads = [b["payload"] for b in message["buttons"]]
    # The two close PRP topics first (both opinions agree), at most three topics, then "Something else".
    assert payloads[:2] == ["What is PRP?", "How is a PRP injection done?"], payloads
    assert payloads[-1] == "/deny" and len(payloads) <= 4


def test_no_close_guess_asks_to_rephrase(dispatcher, domain):
    parse = {
        "text": "asdf",
        "intent": {"name": "nlu_fallback", "confidence": 0.4},
        "intent_ranking": [
            {"name": "greet", "confidence": 0.35},
            {"name": "thank", "confidence": 0.02},
        ],
    }
    ActionClarify().run(dispatcher, make_tracker(parse), domain)
    assert [message["text"] for message in dispatcher.messages] == [REPHRASE]


def test_repeated_failure_offers_the_clinic(dispatcher, domain):
    fallback = {"intent": {"name": "nlu_fallback", "confidence": 0.2}, "text": "??"}
    events = [
        {"event": "user", "parse_data": fallback},
        {"event": "bot"},
        {"event": "user", "parse_data": fallback},
    ]
    tracker = make_tracker(fallback, events=events)
    assert consecutive_fallbacks(tracker) == 2
    ActionClarify().run(dispatcher, tracker, domain)
    assert load_clinic_settings().phone in dispatcher.messages[0]["text"]


def test_a_understood_message_resets_the_failure_count():
    fallback = {"intent": {"name": "nlu_fallback"}}
    events = [
        {"event": "user", "parse_data": fallback},
        {"event": "user", "parse_data": {"intent": {"name": "faq"}}},
        {"event": "user", "parse_data": fallback},
    ]
    assert consecutive_fallbacks(make_tracker(fallback, events=events)) == 1


def test_far_apart_guesses_give_no_buttons():
    assert did_you_mean_buttons([("faq/prp_what", 0.8), ("faq/adrc", 0.1)]) == []


def test_intent_guesses_get_their_own_buttons():
    buttons = did_you_mean_buttons([("book_appointment", 0.4), ("human_handoff", 0.35)])
    assert [b["payload"] for b in buttons] == [
        "/book_appointment",
        "/human_handoff",
        "/deny",
    ]


def more_tracker(channel: str, events_before: list):
    more = {
        "event": "user",
        "text": "/faq_more",
        "input_channel": channel,
        "parse_data": {"text": "/faq_more"},
    }
    return make_tracker(parse_data={"text": "/faq_more"}, events=events_before + [more])


def test_more_sends_the_full_answer_of_the_last_faq_on_sms(domain):
    from actions.faq_more import ActionFaqMore

    asked = {
        "event": "user",
        "text": "what is prp",
        "input_channel": "sms",
        "parse_data": faq_parse("prp_what"),
    }
    dispatcher = CollectingDispatcher()
    ActionFaqMore().run(dispatcher, more_tracker("sms", [asked]), domain)
    assert dispatcher.messages[0]["text"] == domain["responses"]["utter_faq/prp_what"][0]["text"]


def test_more_on_the_web_or_without_a_question_says_so(domain):
    from actions.faq_more import ALREADY_COMPLETE, NOTHING_TO_EXPAND, ActionFaqMore

    asked = {
        "event": "user",
        "text": "what is prp",
        "input_channel": "rest",
        "parse_data": faq_parse("prp_what"),
    }
    dispatcher = CollectingDispatcher()
    ActionFaqMore().run(dispatcher, more_tracker("rest", [asked]), domain)
    ActionFaqMore().run(dispatcher, more_tracker("sms", []), domain)
    assert [m["text"] for m in dispatcher.messages] == [ALREADY_COMPLETE, NOTHING_TO_EXPAND]


# --- in Spanish: the conversation's `language` slot picks titles, questions and texts -----------


def spanish(parse_data=None, events=None):
    return make_tracker(parse_data, events=events, slots={"booking_offered": False, "language": "es"})


def test_did_you_mean_in_spanish_shows_spanish_titles_sending_spanish_questions(dispatcher, domain):
    from bot.topics import load_topics

    ActionClarify().run(dispatcher, spanish(close_call_parse()), domain)
    message = dispatcher.messages[0]
    topics = load_topics()
    assert message["text"].startswith("Quiero asegurarme de haberle entendido.")
    assert "Si es una emergencia, llame al 911" in message["text"]
    buttons = [(b["title"], b["payload"]) for b in message["buttons"]]
    assert buttons[:2] == [
        (topics["prp_what"].title_es, topics["prp_what"].question_es),
        (topics["prp_procedure"].title_es, topics["prp_procedure"].question_es),
    ]
    assert topics["prp_what"].question_es != topics["prp_what"].question
    assert buttons[-1] == ("Otra cosa", "/deny")


def test_did_you_mean_in_english_is_unchanged(dispatcher, domain):
    from bot.topics import load_topics

    ActionClarify().run(dispatcher, make_tracker(close_call_parse()), domain)
    topics = load_topics()
    assert [(b["title"], b["payload"]) for b in dispatcher.messages[0]["buttons"]][:2] == [
        (topics["prp_what"].title, "What is PRP?"),
        (topics["prp_procedure"].title, "How is a PRP injection done?"),
    ]


def test_intent_guesses_and_rephrase_in_spanish(dispatcher, domain):
    buttons = did_you_mean_buttons([("book_appointment", 0.4), ("human_handoff", 0.35)], "es")
    assert [(b["title"], b["payload"]) for b in buttons] == [
        ("Pedir una cita", "/book_appointment"),
        ("Hablar con la clínica", "/human_handoff"),
        ("Otra cosa", "/deny"),
    ]
    parse = {
        "text": "asdf",
        "intent": {"name": "nlu_fallback"},
        "intent_ranking": [{"name": "greet", "confidence": 0.3}],
    }
    ActionClarify().run(dispatcher, spanish(parse), domain)
    assert dispatcher.messages[0]["text"].startswith("Disculpe, no le entendí.")


def test_repeated_failure_in_spanish_gives_the_clinic_in_spanish(dispatcher, domain):
    fallback = {"intent": {"name": "nlu_fallback", "confidence": 0.2}, "text": "??"}
    events = [
        {"event": "user", "parse_data": fallback},
        {"event": "bot"},
        {"event": "user", "parse_data": fallback},
    ]
    ActionClarify().run(dispatcher, spanish(fallback, events), domain)
    text = dispatcher.messages[0]["text"]
    assert "Si es una emergencia, llame al 911" in text
    assert f"al {load_clinic_settings().phone}" in text and "Horario: lunes a jueves" in text


def test_contact_in_spanish_names_the_days_in_spanish(dispatcher, domain):
    ActionShareContact().run(dispatcher, spanish({"intent": {"name": "human_handoff"}, "text": "x"}), domain)
    text = dispatcher.messages[0]["text"]
    clinic = load_clinic_settings()
    assert text.startswith("Nuestro equipo con gusto le atenderá en persona.")
    assert f"Puede comunicarse con {clinic.name} al {clinic.phone}." in text
    assert "Horario: lunes a jueves 09:00-17:00, viernes 09:00-16:00." in text
    assert f"Solicite una cita en línea: {clinic.booking_url}" in text


def test_followup_in_spanish(dispatcher, domain):
    ActionFaqFollowup().run(dispatcher, spanish(faq_parse("cost_insurance")), domain)
    cost, offer = dispatcher.messages
    assert "costos y seguro médico" in cost["text"] and load_clinic_settings().phone in cost["text"]
    assert offer["text"].startswith("¿Le gustaría solicitar una visita")
    assert [(b["title"], b["payload"]) for b in offer["buttons"]] == [
        ("Sí, pedir una cita", "/book_appointment"),
        ("No, gracias", "/deny"),
    ]


def test_more_in_spanish_sends_the_full_spanish_answer(domain):
    from actions.faq_more import ActionFaqMore, full_answer

    asked = {
        "event": "user",
        "text": "qué es el prp",
        "input_channel": "sms",
        "parse_data": faq_parse("prp_what"),
    }
    more = {"event": "user", "text": "/faq_more", "input_channel": "sms", "parse_data": {"text": "/faq_more"}}
    dispatcher = CollectingDispatcher()
    ActionFaqMore().run(dispatcher, spanish({"text": "/faq_more"}, [asked, more]), domain)
    [spanish_screen] = [
        v["text"]
        for v in domain["responses"]["utter_faq/prp_what"]
        if v.get("condition") and not v.get("channel")
    ]
    assert dispatcher.messages[0]["text"] == spanish_screen == full_answer(domain, "prp_what", "es")
    assert full_answer(domain, "prp_what", "en") == domain["responses"]["utter_faq/prp_what"][0]["text"]


def test_more_in_spanish_without_a_question_says_so_in_spanish(domain):
    from actions.faq_more import ActionFaqMore

    dispatcher = CollectingDispatcher()
    more = {"event": "user", "text": "/faq_more", "input_channel": "sms", "parse_data": {"text": "/faq_more"}}
    ActionFaqMore().run(dispatcher, spanish({"text": "/faq_more"}, [more]), domain)
    assert dispatcher.messages[0]["text"].startswith("Escríbame su pregunta")


def test_full_answer_follows_rasas_choice_of_variant():
    """Conditional (language) variants first, channel variants never (the screen text is wanted)."""
    from actions.faq_more import full_answer

    domain = {
        "responses": {
            "utter_faq/x": [
                {"text": "Long English."},
                {"text": "Short English.", "channel": "sms"},
                {
                    "text": "Texto corto.",
                    "channel": "sms",
                    "condition": [{"type": "slot", "name": "language", "value": "es"}],
                },
                {"text": "Texto largo.", "condition": [{"type": "slot", "name": "language", "value": "ES"}]},
            ]
        }
    }
    assert full_answer(domain, "x", "en") == "Long English."
    assert full_answer(domain, "x", "es") == "Texto largo."
    domain["responses"]["utter_faq/x"].pop()
    assert full_answer(domain, "x", "es") == "Long English."  # no Spanish yet: the English one


@pytest.mark.parametrize(
    "language, first_words", [("en", "If this is happening now"), ("es", "Si esto le está pasando")]
)
def test_a_possible_emergency_gets_911_before_the_clarification(domain, language, first_words):
    """The classifier alone suspected an emergency that the red-flag rules did not confirm."""
    from actions.clarify import ActionClarify

    parse = {
        "text": "no tengo fiebre ni escalofrios",
        "intent": {"name": "nlu_fallback", "confidence": 1.0},
        "intent_ranking": [
            {"name": "nlu_fallback", "confidence": 1.0},
            {"name": "emergency", "confidence": 0.9},
        ],
        "possible_emergency": True,
    }
    tracker = make_tracker(parse, slots={"booking_offered": False, "language": language})
    dispatcher = CollectingDispatcher()
    ActionClarify().run(dispatcher, tracker, domain)
    first, *rest = dispatcher.messages
    assert first["text"].startswith(first_words) and "911" in first["text"]
    assert rest  # the clarification still follows
