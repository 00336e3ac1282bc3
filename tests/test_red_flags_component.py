"""The Rasa component: red flags override the classifier's intent, nothing else changes."""

from __future__ import annotations

import pytest
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.red_flags import EMERGENCY_INTENT, RedFlagDetector
from tests.conftest import SPACY_PATH


@pytest.fixture(scope="module")
def spacy_model(spacy_nlp) -> SpacyModel:
    return SpacyModel(model=spacy_nlp, model_name=str(SPACY_PATH))


def message(text: str, intent: str = "faq", confidence: float = 0.9) -> Message:
    msg = Message(data={"text": text})
    msg.set("intent", {"name": intent, "confidence": confidence})
    msg.set(
        "intent_ranking",
        [
            {"name": intent, "confidence": confidence},
            {"name": EMERGENCY_INTENT, "confidence": 0.05},
        ],
    )
    return msg


def test_red_flag_overrides_the_classifier(spacy_model):
    msg = message("my legs are getting weak and I lost bladder control", intent="nlu_fallback")
    RedFlagDetector().process([msg], spacy_model)
    assert msg.get("intent") == {"name": EMERGENCY_INTENT, "confidence": 1.0}
    ranking = [entry["name"] for entry in msg.get("intent_ranking")]
    assert ranking == [
        EMERGENCY_INTENT,
        "nlu_fallback",
    ]  # emergency first, not listed twice
    assert msg.get("red_flags") == ["bladder_bowel", "leg_weakness"]


def test_ordinary_message_keeps_its_intent(spacy_model):
    msg = message("what is PRP")
    RedFlagDetector().process([msg], spacy_model)
    assert msg.get("intent") == {"name": "faq", "confidence": 0.9}
    assert msg.get("red_flags") is None


def test_negated_red_flag_keeps_the_classifier_intent(spacy_model):
    msg = message("no numbness in my groin, what is RELIEF?")
    RedFlagDetector().process([msg], spacy_model)
    assert msg.get("intent")["name"] == "faq"


@pytest.mark.parametrize("confidence", [0.6, 0.99])
def test_a_classifier_emergency_without_a_rule_is_a_possible_emergency(spacy_model, confidence):
    # The classifier cannot read the negations; the rules can. The clarification leads with 911.
    msg = message(
        "no weakness, no fever, no trouble peeing, just achy", intent=EMERGENCY_INTENT, confidence=confidence
    )
    RedFlagDetector().process([msg], spacy_model)
    assert msg.get("intent")["name"] == "nlu_fallback"
    assert [entry["name"] for entry in msg.get("intent_ranking")][:2] == ["nlu_fallback", EMERGENCY_INTENT]
    assert msg.get("possible_emergency") is True


def test_a_rule_emergency_is_not_marked_possible(spacy_model):
    msg = message("I lost control of my bladder and my legs are weak", intent=EMERGENCY_INTENT)
    RedFlagDetector().process([msg], spacy_model)
    assert msg.get("intent")["name"] == EMERGENCY_INTENT
    assert msg.get("possible_emergency") is None


def test_empty_text_is_skipped(spacy_model):
    msg = Message(data={"text": ""})
    RedFlagDetector().process([msg], spacy_model)
    assert msg.get("intent") is None


@pytest.mark.parametrize(
    "text, flag",
    [
        ("I just want to disappear, nobody would notice", "self_harm"),
        ("ES UNA EMERGENCIA", "emergency_statement"),
        ("throat swelling and hives after the shot", "allergic_reaction"),
    ],
)
def test_component_reports_the_kind_of_flag(spacy_model, text, flag):
    # SpacyNLP makes the doc from lowercased text (case_sensitive: false); the flags are the same
    # either way, and the kind lets the dialogue pick, e.g., the crisis-line wording for self_harm.
    msg = message(text)
    RedFlagDetector().process([msg], spacy_model)
    assert msg.get("intent")["name"] == EMERGENCY_INTENT
    assert flag in msg.get("red_flags")
