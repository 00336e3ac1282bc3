"""The red-flag rules alone (no trained model) on the emergency sets.

tests/emergency_cases.yml is the development set: every emergency must be caught and at most 5%
of its look-alikes may raise a false alarm, in English and Spanish together and in Spanish alone
(Miami patients write in both; Spanish false alarms must not hide behind English ones).
tests/emergency_dev.yml is a smaller check written before this round of rules and never tuned to;
it is gated loosely, as a regression guard.
"""

from __future__ import annotations

from typing import Dict, List

import pytest
from spacy.matcher import Matcher
from spacy.tokens import Doc

from bot import PROJECT_ROOT
from bot.evaluation import load_nlu_examples
from bot.language import SPANISH, best_guess
from bot.nlu.red_flag_matcher import RedFlagMatcher

CASES = PROJECT_ROOT / "tests" / "emergency_cases.yml"
DEV = PROJECT_ROOT / "tests" / "emergency_dev.yml"
MAX_FALSE_ALARM_RATE = 0.05


@pytest.fixture(scope="module")
def matcher(spacy_nlp) -> RedFlagMatcher:
    return RedFlagMatcher.for_pipeline(spacy_nlp)


@pytest.fixture(scope="module")
def cases() -> Dict[str, List[str]]:
    return load_nlu_examples(CASES)


def flagged(matcher: RedFlagMatcher, spacy_nlp, text: str) -> bool:
    # SpacyNLP lowercases before parsing (case_sensitive: false); do the same here.
    return bool(matcher.active_flags(spacy_nlp(text.lower())))


def test_cases_file_is_big_varied_and_consistent(cases):
    emergencies, look_alikes = cases["emergency"], cases["not_emergency"]
    assert len(emergencies) >= 540 and len(look_alikes) >= 350
    assert set(cases) == {"emergency", "not_emergency"}
    lowered = [text.lower() for text in emergencies + look_alikes]
    assert len(lowered) == len(set(lowered)), "a case is listed twice (or as both kinds)"
    spanish = [text for text in emergencies + look_alikes if any(c in text for c in "áéíóúñ¿¡")]
    assert len(spanish) >= 0.15 * len(lowered)  # accented ones only (a little over half are Spanish)


def spanish_only(texts: List[str]) -> List[str]:
    return [text for text in texts if best_guess(text) == SPANISH]


def test_spanish_is_covered_as_fully_as_english(cases):
    """At least 40% of each kind is Spanish, by the language detector the bot itself uses."""
    assert len(spanish_only(cases["emergency"])) >= 0.4 * len(cases["emergency"])
    assert len(spanish_only(cases["not_emergency"])) >= 0.4 * len(cases["not_emergency"])


def test_every_emergency_is_caught_by_the_rules_alone(matcher, spacy_nlp, cases):
    missed = [text for text in cases["emergency"] if not flagged(matcher, spacy_nlp, text)]
    assert missed == []


def test_few_look_alikes_raise_a_false_alarm(matcher, spacy_nlp, cases):
    false_alarms = [text for text in cases["not_emergency"] if flagged(matcher, spacy_nlp, text)]
    print(f"\nfalse alarms {len(false_alarms)}/{len(cases['not_emergency'])}: {false_alarms}")
    assert len(false_alarms) <= MAX_FALSE_ALARM_RATE * len(cases["not_emergency"])


def test_few_spanish_look_alikes_raise_a_false_alarm(matcher, spacy_nlp, cases):
    look_alikes = spanish_only(cases["not_emergency"])
    false_alarms = [text for text in look_alikes if flagged(matcher, spacy_nlp, text)]
    print(f"\nSpanish false alarms {len(false_alarms)}/{len(look_alikes)}: {false_alarms}")
    assert len(false_alarms) <= MAX_FALSE_ALARM_RATE * len(look_alikes)


def test_dev_check_stays_where_it_was_measured(matcher, spacy_nlp):
    dev = load_nlu_examples(DEV)
    assert len(dev["emergency"]) >= 60 and len(dev["not_emergency"]) >= 30
    caught = sum(flagged(matcher, spacy_nlp, text) for text in dev["emergency"])
    false_alarms = sum(flagged(matcher, spacy_nlp, text) for text in dev["not_emergency"])
    print(
        f"\ndev check: caught {caught}/{len(dev['emergency'])}, false alarms {false_alarms}/{len(dev['not_emergency'])}"
    )
    assert caught >= 0.95 * len(dev["emergency"])
    assert false_alarms <= 0.10 * len(dev["not_emergency"])


def test_anchored_matcher_finds_what_spacys_matcher_finds(matcher, spacy_nlp, cases):
    """The fast matcher must mean exactly what the patterns mean to spaCy's own Matcher."""
    reference = Matcher(spacy_nlp.vocab)
    for index, (name, pattern) in enumerate(matcher.patterns):
        reference.add(f"{name}#{index}", [pattern])
    texts = cases["emergency"] + cases["not_emergency"] + ["", "help", "^ $ ~ !"]
    for text in texts:
        tokens = [token.text for token in spacy_nlp.tokenizer(text.lower())]
        if not tokens:
            continue
        words, lemmas = matcher.normal_forms(tokens)
        doc = Doc(spacy_nlp.vocab, words=words, lemmas=lemmas)
        expected = {(spacy_nlp.vocab.strings[key].split("#")[0], start) for key, start, _ in reference(doc)}
        assert matcher.matches(tokens) == expected, text
