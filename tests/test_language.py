"""Reply language detection (bot/language.py): sticky unless a message clearly switches."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluation import load_nlu_examples
from bot.language import ENGLISH, SPANISH, best_guess, explicit_request, language_switch

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    "text", ["ok", "PRP", "Medicare", "no", "RELIEF", "si", "RELIEF Miami", "stem cells", "?", "", "🙂🙂"]
)
def test_short_shared_words_never_switch(text):
    assert language_switch(text) is None


@pytest.mark.parametrize(
    "text, language",
    [
        ("en español por favor", SPANISH),
        ("Español", SPANISH),
        ("habla español?", SPANISH),
        ("can you speak spanish", SPANISH),
        ("English please", ENGLISH),
        ("en inglés", ENGLISH),
        ("do you speak english?", ENGLISH),
    ],
)
def test_explicit_requests(text, language):
    assert explicit_request(text) == language
    assert language_switch(text) == language


@pytest.mark.parametrize(
    "text, language",
    [
        ("hola", SPANISH),
        ("buenas tardes", SPANISH),
        ("Gracias", SPANISH),
        ("hola, quiero una cita", SPANISH),
        ("¿Qué es el PRP?", SPANISH),
        ("quiero book una cita para el relief", SPANISH),
        ("necesito una cita para la semana que viene", SPANISH),
        ("vivo en Hialeah y quiero el RELIEF", SPANISH),
        ("Is it covered by insurance?", ENGLISH),
        # short emergencies, often a first message: words only Spanish has decide
        ("ayuda", SPANISH),
        ("ambulancia", SPANISH),
        ("sangro mucho", SPANISH),
        ("llamen al 911", SPANISH),
        ("I live in Miami and want to try RELIEF", ENGLISH),
    ],
)
def test_clear_messages_switch(text, language):
    assert language_switch(text) == language


def test_the_widget_choice_wins_over_the_text():
    assert language_switch("ok", {"language_choice": "es"}) == SPANISH
    assert language_switch("hola amigos de la clinica", {"language_choice": "en"}) == ENGLISH
    assert language_switch("ok", {"language_choice": "fr"}) is None
    assert language_switch("ok", {"language_choice": ["es"]}) is None
    assert language_switch("ok", "not a mapping") is None


def test_best_guess_defaults_to_english():
    assert best_guess("PRP") == ENGLISH
    assert best_guess("PRP", default=SPANISH) == SPANISH
    assert best_guess("me duele mucho la espalda") == SPANISH


def _sentences(*names: str):
    return [text for name in names for texts in load_nlu_examples(TESTS / name).values() for text in texts]


def test_english_test_sets_rarely_switch_to_spanish():
    english = _sentences("nlu_heldout.yml", "nlu_realstyle_blind.yml")
    wrong = [text for text in english if language_switch(text) == SPANISH]
    # a few English sets hold Spanish or Spanglish questions on purpose
    assert len(wrong) / len(english) <= 0.03, wrong


def test_spanish_test_sets_switch_to_spanish_and_never_to_english():
    spanish = _sentences("nlu_es_heldout.yml", "nlu_es_blind.yml")
    detected = [language_switch(text) for text in spanish]
    assert detected.count(SPANISH) / len(spanish) >= 0.80
    to_english = [text for text, language in zip(spanish, detected, strict=False) if language == ENGLISH]
    assert len(to_english) / len(spanish) <= 0.03, to_english


def _tracker(*events):
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.load(str(TESTS.parent / "domain.yml"))
    return DialogueStateTracker.from_events("t", list(events), slots=domain.slots)


def _user(text: str, switch=None):
    from rasa.shared.core.events import UserUttered

    parse = {"intent": {"name": "faq", "confidence": 1.0}, "text": text}
    if switch:
        parse["language_switch"] = switch
    return UserUttered(text, parse["intent"], parse_data=parse)


def test_the_policy_sets_the_slot_on_the_first_prediction_of_a_switching_turn():
    from rasa.shared.core.events import ActionExecuted, SlotSet

    from bot.language_policy import language_events

    listen, extract = ActionExecuted("action_listen"), ActionExecuted("action_extract_slots")
    assert language_events(_tracker(listen, _user("¿Qué es el PRP?", "es"), extract)) == [
        SlotSet("language", "es")
    ]
    # later predictions of the same turn, a message that switches nothing, the same language again
    assert (
        language_events(
            _tracker(listen, _user("¿Qué es el PRP?", "es"), extract, ActionExecuted("utter_faq"))
        )
        == []
    )
    assert language_events(_tracker(listen, _user("PRP"), extract)) == []
    assert language_events(_tracker(SlotSet("language", "es"), listen, _user("qué es el PRP", "es"))) == []


def test_the_widget_choice_on_a_typed_intent_sets_the_slot():
    """ "/greet" skips the NLU pipeline; the widget's toggle choice comes in the message metadata."""
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered

    from bot.language_policy import language_events

    greet = UserUttered("/greet", {"name": "greet", "confidence": 1.0}, metadata={"language_choice": "es"})
    assert language_events(_tracker(ActionExecuted("action_listen"), greet)) == [SlotSet("language", "es")]
    odd = UserUttered("/greet", {"name": "greet", "confidence": 1.0}, metadata={"language_choice": "fr"})
    assert language_events(_tracker(ActionExecuted("action_listen"), odd)) == []


def test_the_language_slot_is_not_an_entity():
    """Rasa featurizes every entity for retrieval intents whatever the domain says; an entity made
    every Spanish turn differ from the rules and stories (a "yes" to the booking offer fell through)."""
    from rasa.shared.core.domain import Domain

    domain = Domain.load(str(TESTS.parent / "domain.yml"))
    assert "language" not in domain.entities
    [slot] = [slot for slot in domain.slots if slot.name == "language"]
    assert slot.mappings == [{"type": "custom"}] and not slot.influence_conversation
