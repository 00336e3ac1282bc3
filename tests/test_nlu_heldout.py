"""NLU quality on sets training never sees (tests/test_data_leaks.py checks that).

Gates: intent+topic accuracy >= 0.93 on the English held-out set, >= 0.90 on the real-style blind
set and on the Spanish held-out and blind sets, every emergency caught; on the emergency regression
set, every emergency and at most 5% false alarms. `make eval` prints the full report. The staff
promotion gate (bot/staff/retrain.py) never accepts less (tests/test_retrain_gate.py checks it).
"""

from __future__ import annotations

import pytest

from bot import PROJECT_ROOT
from bot.evaluation import Scores, load_nlu_examples, score

HELDOUT = PROJECT_ROOT / "tests" / "nlu_heldout.yml"
TRAINING = PROJECT_ROOT / "data" / "nlu.yml"
MIN_ACCURACY = 0.93
MIN_EMERGENCY_RECALL = 1.0  # held-out emergencies
# The emergency regression set with the trained model: every emergency (the red-flag rules alone
# catch all of them; docs/performance.md).
MIN_REGRESSION_RECALL = 1.0
MAX_REGRESSION_FALSE_ALARMS = 0.05


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


# Spanish sets, written independently of the Spanish training data (docs/performance.md has their
# first measurement).
SPANISH_HELDOUT = PROJECT_ROOT / "tests" / "nlu_es_heldout.yml"
SPANISH_BLIND = PROJECT_ROOT / "tests" / "nlu_es_blind.yml"
MIN_SPANISH_ACCURACY = 0.90


def test_spanish_heldout_set_covers_every_label_but_emergency():
    # Spanish emergencies are gated in the emergency regression set (about 40% Spanish).
    labels = set(load_nlu_examples(SPANISH_HELDOUT))
    assert labels == set(load_nlu_examples(TRAINING)) - {"emergency"}
    assert sum(len(v) for v in load_nlu_examples(SPANISH_HELDOUT).values()) >= 140


@pytest.mark.parametrize("path", [SPANISH_HELDOUT, SPANISH_BLIND], ids=["heldout", "blind"])
def test_spanish_sets_accuracy(trained_agent, path):
    spanish = score(trained_agent, path)
    print(
        f"\n{path.name} accuracy {spanish.accuracy:.3f} of {len(spanish.rows)}; confusions: {spanish.common_confusions()}"
    )
    assert spanish.accuracy >= MIN_SPANISH_ACCURACY


@pytest.mark.parametrize(
    "path",
    [HELDOUT, REAL_STYLE_BLIND, SPANISH_HELDOUT, SPANISH_BLIND],
    ids=["heldout", "realstyle", "es-heldout", "es-blind"],
)
def test_no_dead_ends_on_in_scope_questions(trained_agent, path):
    """An FAQ question the bot is unsure of gets "did you mean", never a bare "I didn't get that"."""
    from actions.clarify import choices_for

    dead_ends = [
        parsed["text"] for parsed in score(trained_agent, path).unsure_faq_parses if not choices_for(parsed)
    ]
    assert dead_ends == []
