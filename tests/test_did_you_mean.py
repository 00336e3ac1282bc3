"""No dead ends: a plausible question gets "did you mean" topics, gibberish gets "I didn't get that"
(actions/did_you_mean.py, bot/faq_neighbours.py). Real training data, no model needed."""

from __future__ import annotations

import pytest

from actions.clarify import SOMETHING_ELSE, topic_buttons
from actions.did_you_mean import topics_to_offer
from bot.faq_neighbours import TopicIndex, plausible_topics


def unsure(text: str, ranking=()) -> dict:
    """Parse data as the classifiers leave an unsure message: nlu_fallback, a flat topic ranking."""
    return {
        "text": text,
        "intent": {"name": "nlu_fallback", "confidence": 0.4},
        "response_selector": {
            "faq": {"ranking": [{"intent_response_key": f"faq/{t}", "confidence": c} for t, c in ranking]}
        },
    }


@pytest.mark.parametrize(
    "text, expected_topic",
    [
        ("Is it covered by insurance?", "cost_insurance"),
        ("Can Nerve Burning Be Effective for Alleviating Back Pain?", "radiofrequency_ablation"),
        ("how much does the prp cost me", "cost_insurance"),
    ],
)
def test_a_plausible_question_gets_topics_to_choose_from(text, expected_topic):
    offered = topics_to_offer(unsure(text))
    assert 1 <= len(offered) <= 3 and expected_topic in offered


@pytest.mark.parametrize("text", ["blorp zzkt wibble", "qwerty uiop", "????", "xyz"])
def test_gibberish_gets_no_topics(text):
    assert topics_to_offer(unsure(text, [("prp_what", 0.14), ("clinic_location", 0.1)])) == []


def test_a_confident_selector_topic_joins_the_neighbours_choice():
    offered = topics_to_offer(unsure("Is it covered by insurance?", [("safety_side_effects", 0.9)]))
    assert "safety_side_effects" in offered and "cost_insurance" in offered


def test_buttons_are_topic_titles_plus_something_else():
    buttons = topic_buttons(unsure("Is it covered by insurance?"))
    assert buttons[-1] == SOMETHING_ELSE and 2 <= len(buttons) <= 4
    assert all(button["title"] and button["payload"] for button in buttons)


def test_the_index_follows_the_training_file(tmp_path):
    nlu = tmp_path / "nlu.yml"
    nlu.write_text(
        'version: "3.1"\nnlu:\n- intent: faq/parking\n  examples: |\n    - where can i park my car\n'
    )
    assert [topic for topic, _ in plausible_topics("where do i park", path=nlu)] == ["parking"]
    nlu.write_text(
        'version: "3.1"\nnlu:\n- intent: faq/valet\n  examples: |\n    - where can i park my car please\n'
    )
    assert [topic for topic, _ in plausible_topics("where do i park", path=nlu)] == ["valet"]


def test_topics_are_ranked_by_their_closest_example():
    index = TopicIndex.build({"faq/a": ["what is prp"], "faq/b": ["where is the clinic"], "greet": ["hi"]})
    assert [topic for topic, _ in index.plausible_topics("what is prp exactly")][0] == "a"
