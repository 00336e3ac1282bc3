"""NLU quality on the held-out set (tests/nlu_heldout.yml), which training never sees.

Gates: intent+topic accuracy >= 0.90 and every emergency caught. `make eval` prints the full
report for this set and the blind one (tests/nlu_blind.yml).
"""

from __future__ import annotations

import pytest

from bot import PROJECT_ROOT
from bot.evaluation import Scores, load_nlu_examples, score

HELDOUT = PROJECT_ROOT / "tests" / "nlu_heldout.yml"
BLIND = PROJECT_ROOT / "tests" / "nlu_blind.yml"
TRAINING = PROJECT_ROOT / "data" / "nlu.yml"
MIN_ACCURACY = 0.90


@pytest.fixture(scope="module")
def scores(trained_agent) -> Scores:
    return score(trained_agent, HELDOUT)


def test_heldout_set_is_big_and_covers_every_intent():
    heldout = load_nlu_examples(HELDOUT)
    assert sum(len(v) for v in heldout.values()) >= 150
    assert set(heldout) == set(load_nlu_examples(TRAINING))


@pytest.mark.parametrize("path", [HELDOUT, BLIND], ids=["heldout", "blind"])
def test_no_test_message_is_in_training_data(path):
    training = {text.lower() for texts in load_nlu_examples(TRAINING).values() for text in texts}
    leaked = [
        text for texts in load_nlu_examples(path).values() for text in texts if text.lower() in training
    ]
    assert leaked == []


def test_intent_and_topic_accuracy(scores):
    print(
        f"\nheld-out accuracy {scores.accuracy:.3f} of {len(scores.rows)}; confusions: {scores.common_confusions()}"
    )
    assert scores.accuracy >= MIN_ACCURACY


def test_every_emergency_is_caught(scores):
    assert [text for text, expected, predicted in scores.misses() if expected == "emergency"] == []


EMERGENCY_CASES = PROJECT_ROOT / "tests" / "emergency_cases.yml"


@pytest.fixture(scope="module")
def emergency_cases(trained_agent) -> Scores:
    return score(trained_agent, EMERGENCY_CASES)


def test_emergency_regression_set_recall(emergency_cases):
    """A harder, wider set (slang, Spanish, buried mentions, indirect self-harm)."""
    rows = [row for row in emergency_cases.rows if row[1] == "emergency"]
    missed = [text for text, _, predicted in rows if predicted != "emergency"]
    print(f"\nemergency regression set: {len(rows) - len(missed)}/{len(rows)} caught; missed: {missed}")
    # measured 0.95-0.97 across retrains (the classifier's share varies); docs/performance.md
    assert (len(rows) - len(missed)) / len(rows) >= 0.93


def test_emergency_regression_set_false_alarms(emergency_cases):
    rows = [row for row in emergency_cases.rows if row[1] == "not_emergency"]
    false_alarms = [text for text, _, predicted in rows if predicted == "emergency"]
    assert len(false_alarms) / len(rows) <= 0.15
