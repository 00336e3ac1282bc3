"""NLU quality on the held-out set (tests/nlu_heldout.yml), which training never sees.

Gates: intent+topic accuracy >= 0.90 and every emergency caught, on the held-out set and on the
real-style blind set (tests/nlu_realstyle_blind.yml). `make eval` prints the full
report for this set and the blind one (tests/nlu_blind.yml). The staff promotion gate
(bot/staff/retrain.py) never accepts less than these (tests/test_retrain_gate.py checks it).
"""

from __future__ import annotations

import pytest

from bot import PROJECT_ROOT
from bot.evaluation import Scores, load_nlu_examples, score

HELDOUT = PROJECT_ROOT / "tests" / "nlu_heldout.yml"
TRAINING = PROJECT_ROOT / "data" / "nlu.yml"
MIN_ACCURACY = 0.90
MIN_EMERGENCY_RECALL = 1.0  # held-out emergencies
# The emergency regression set with the trained model: every emergency (the red-flag rules alone
# catch all of them; docs/performance.md).
MIN_REGRESSION_RECALL = 1.0
MAX_REGRESSION_FALSE_ALARMS = 0.15


@pytest.fixture(scope="module")
def scores(trained_agent) -> Scores:
    return score(trained_agent, HELDOUT)


def test_heldout_set_is_big_and_covers_every_intent():
    heldout = load_nlu_examples(HELDOUT)
    assert sum(len(v) for v in heldout.values()) >= 150
    assert set(heldout) == set(load_nlu_examples(TRAINING))


# That no test sentence (or a near copy) is in training: tests/test_data_leaks.py.


def test_intent_and_topic_accuracy(scores):
    print(
        f"\nheld-out accuracy {scores.accuracy:.3f} of {len(scores.rows)}; confusions: {scores.common_confusions()}"
    )
    assert scores.accuracy >= MIN_ACCURACY


def test_every_emergency_is_caught(scores):
    assert [text for text, expected, predicted in scores.misses() if expected == "emergency"] == []


REAL_STYLE_BLIND = PROJECT_ROOT / "tests" / "nlu_realstyle_blind.yml"
# First measured at 0.950 (docs/performance.md), before anything changed because of it.
MIN_REAL_STYLE_ACCURACY = 0.90


def test_real_style_blind_set_accuracy_and_emergencies(trained_agent):
    """Questions the way patients write them online, by an author who saw no training data."""
    blind = score(trained_agent, REAL_STYLE_BLIND)
    print(f"\nreal-style blind accuracy {blind.accuracy:.3f} of {len(blind.rows)}")
    assert blind.accuracy >= MIN_REAL_STYLE_ACCURACY
    assert blind.emergency_recall == 1.0


EMERGENCY_CASES = PROJECT_ROOT / "tests" / "emergency_cases.yml"


@pytest.fixture(scope="module")
def emergency_cases(trained_agent) -> Scores:
    return score(trained_agent, EMERGENCY_CASES)


def test_emergency_regression_set_recall(emergency_cases):
    """A harder, wider set (slang, Spanish, buried mentions, indirect self-harm)."""
    rows = [row for row in emergency_cases.rows if row[1] == "emergency"]
    missed = [text for text, _, predicted in rows if predicted != "emergency"]
    print(f"\nemergency regression set: {len(rows) - len(missed)}/{len(rows)} caught; missed: {missed}")
    assert (len(rows) - len(missed)) / len(rows) >= MIN_REGRESSION_RECALL


def test_emergency_regression_set_false_alarms(emergency_cases):
    rows = [row for row in emergency_cases.rows if row[1] == "not_emergency"]
    false_alarms = [text for text, _, predicted in rows if predicted == "emergency"]
    assert len(false_alarms) / len(rows) <= MAX_REGRESSION_FALSE_ALARMS
