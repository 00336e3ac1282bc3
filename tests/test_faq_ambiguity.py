"""The FAQ ambiguity gate: a toss-up between topics becomes nlu_fallback; clear answers stay."""

from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.faq_ambiguity import FaqAmbiguityFallback


def faq_message(*confidences: float, intent: str = "faq") -> Message:
    message = Message(data={"text": "x"})
    message.set("intent", {"name": intent, "confidence": 0.99})
    message.set("intent_ranking", [{"name": intent, "confidence": 0.99}])
    ranking = [{"intent_response_key": f"faq/topic{i}", "confidence": c} for i, c in enumerate(confidences)]
    message.set("response_selector", {"faq": {"ranking": ranking, "response": ranking[0] if ranking else {}}})
    return message


def gate() -> FaqAmbiguityFallback:
    return FaqAmbiguityFallback(FaqAmbiguityFallback.get_default_config())


def test_weak_and_close_topics_become_fallback():
    message = faq_message(0.30, 0.25, 0.1)
    gate().process([message])
    assert message.get("intent")["name"] == "nlu_fallback"
    # the original ranking stays underneath, for the "did you mean" buttons
    assert [entry["name"] for entry in message.get("intent_ranking")] == ["nlu_fallback", "faq"]


def test_weak_but_clear_winner_is_kept():
    message = faq_message(0.35, 0.05)
    gate().process([message])
    assert message.get("intent")["name"] == "faq"


def test_strong_topic_is_kept_even_if_close():
    message = faq_message(0.5, 0.45)
    gate().process([message])
    assert message.get("intent")["name"] == "faq"


def test_other_intents_and_missing_rankings_are_ignored():
    greet = faq_message(0.3, 0.29, intent="greet")
    bare = faq_message(0.3)
    gate().process([greet, bare])
    assert greet.get("intent")["name"] == "greet"
    assert bare.get("intent")["name"] == "faq"
