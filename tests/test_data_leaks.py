"""The test sets stay honest: no test sentence (or a near copy of one) is in the training data, and
no sentence carries two labels anywhere.

Sentences are compared after bot.text_normal.normalise (case, accents, punctuation, spacing), so
"I can't breathe" in training leaks "i cant breathe" in a test set. A near copy is a training
sentence at most NEAR_EDITS edits from a test sentence of the same label, both at least
NEAR_MIN_CHARS long ("is prp saef" / "is prp safe"): the model has in effect seen the test
sentence. A near copy with another label is a contrast pair ("facet joint regeneraton" vs
"facet joint degeneration"), which cannot inflate a score, so it is allowed.

Test sets are found by name (tests/nlu_*.yml, tests/emergency_*.yml), so a new set is covered
the day it is added.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

import pytest
import yaml

from bot import PROJECT_ROOT
from bot.evaluation import load_nlu_examples
from bot.text_normal import normalise

TESTS_DIR = PROJECT_ROOT / "tests"
TRAINING_FILES = sorted((PROJECT_ROOT / "data").glob("*.yml"))
CONVERSATION_TESTS = TESTS_DIR / "test_stories.yml"
TEST_SET_PATTERNS = ("nlu_*.yml", "emergency_*.yml")
NEAR_EDITS = 2
NEAR_MIN_CHARS = 12
# Emergency sets label everything else `not_emergency`, conversation tests label topics `faq`.
NOT_EMERGENCY, EMERGENCY, FAQ = "not_emergency", "emergency", "faq"


@dataclass(frozen=True)
class Example:
    source: str
    label: str
    text: str

    @property
    def key(self) -> str:
        return normalise(self.text)


def find_test_sets(tests_dir: Path = TESTS_DIR) -> List[Path]:
    return sorted({path for pattern in TEST_SET_PATTERNS for path in tests_dir.glob(pattern)})


def nlu_examples(paths: Iterable[Path]) -> List[Example]:
    return [
        Example(path.name, label, text)
        for path in paths
        for label, texts in load_nlu_examples(path).items()
        for text in texts
    ]


def conversation_examples(path: Path = CONVERSATION_TESTS) -> List[Example]:
    stories = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("stories", [])
    return [
        Example(path.name, step["intent"], step["user"].strip())
        for story in stories
        for step in story.get("steps", [])
        if "user" in step and "intent" in step
    ]


def labels_agree(first: str, second: str) -> bool:
    """Same label, or one set's coarser name for it (`not_emergency`, `faq`)."""
    if first == second:
        return True
    pair = {first, second}
    if NOT_EMERGENCY in pair:
        return EMERGENCY not in pair
    coarse, fine = sorted(pair, key=len)
    return coarse == FAQ and fine.startswith(FAQ + "/")


def within_edits(first: str, second: str, limit: int = NEAR_EDITS) -> bool:
    """Levenshtein distance <= limit. Only a band of the table is filled and it stops as soon as
    every cell is over the limit: no edit-distance package is in the environment."""
    if abs(len(first) - len(second)) > limit:
        return False
    too_far = limit + 1
    previous = [min(j, too_far) for j in range(len(second) + 1)]
    for i, char in enumerate(first, 1):
        current = [min(i, too_far)] + [too_far] * len(second)
        for j in range(max(1, i - limit), min(len(second), i + limit) + 1):
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != second[j - 1]), too_far
            )
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit


def _pieces(text: str, count: int) -> List[str]:
    size = len(text) // count
    return [text[k * size : (k + 1) * size if k < count - 1 else len(text)] for k in range(count)]


def near_copies(training: List[Example], tests: List[Example]) -> List[Tuple[Example, Example]]:
    """(test, training) pairs that differ but are within NEAR_EDITS edits with the same label."""
    by_length: Dict[int, List[Example]] = defaultdict(list)
    for example in training:
        by_length[len(example.key)].append(example)
    found = []
    for test in tests:
        key = test.key
        if len(key) < NEAR_MIN_CHARS:
            continue
        # Pigeonhole: with at most k edits, one of k+1 pieces of the test sentence is untouched and
        # so is a substring of the copy; a cheap filter before the edit distance.
        pieces = _pieces(key, NEAR_EDITS + 1)
        for length in range(max(NEAR_MIN_CHARS, len(key) - NEAR_EDITS), len(key) + NEAR_EDITS + 1):
            for candidate in by_length.get(length, []):
                if (
                    candidate.key != key
                    and labels_agree(test.label, candidate.label)
                    and any(piece in candidate.key for piece in pieces)
                    and within_edits(key, candidate.key)
                ):
                    found.append((test, candidate))
    return found


def exact_copies(training: List[Example], tests: List[Example]) -> List[Tuple[Example, Example]]:
    by_key: Dict[str, List[Example]] = defaultdict(list)
    for example in training:
        by_key[example.key].append(example)
    return [(test, seen) for test in tests for seen in by_key.get(test.key, [])]


def label_conflicts(examples: List[Example]) -> Dict[str, List[Example]]:
    """Normalised sentences given labels that do not agree, with every place they appear."""
    by_key: Dict[str, List[Example]] = defaultdict(list)
    for example in examples:
        by_key[example.key].append(example)
    return {
        key: places
        for key, places in by_key.items()
        if any(not labels_agree(a.label, b.label) for a in places for b in places)
    }


def _describe(pairs: List[Tuple[Example, Example]]) -> List[str]:
    return [
        f"{test.source} {test.label}: {test.text!r} ~ training {seen.label}: {seen.text!r}"
        for test, seen in pairs
    ]


# --- the checks on the project's data ---------------------------------------------------------

TEST_SETS = find_test_sets()


@pytest.fixture(scope="module")
def training() -> List[Example]:
    return nlu_examples(TRAINING_FILES)


def test_every_known_test_set_is_found_and_has_sentences():
    names = {path.name for path in TEST_SETS}
    assert {"nlu_heldout.yml", "nlu_blind.yml", "emergency_cases.yml", "emergency_dev.yml"} <= names
    assert all(nlu_examples([path]) for path in TEST_SETS)


@pytest.mark.parametrize("path", TEST_SETS, ids=[path.stem for path in TEST_SETS])
def test_no_test_sentence_is_in_the_training_data(training, path):
    assert _describe(exact_copies(training, nlu_examples([path]))) == []


@pytest.mark.parametrize("path", TEST_SETS, ids=[path.stem for path in TEST_SETS])
def test_no_training_sentence_is_a_near_copy_of_a_test_sentence(training, path):
    assert _describe(near_copies(training, nlu_examples([path]))) == []


def test_no_sentence_has_two_labels(training):
    everything = training + nlu_examples(TEST_SETS) + conversation_examples()
    conflicts = {
        key: sorted({f"{place.source}: {place.label}" for place in places})
        for key, places in label_conflicts(everything).items()
    }
    assert conflicts == {}


# --- the checks themselves, on small made-up data ---------------------------------------------


def example(text: str, label: str = "faq/prp_safety", source: str = "x.yml") -> Example:
    return Example(source, label, text)


def test_a_copy_differing_in_case_accents_punctuation_or_spacing_is_a_leak():
    training = [example("I can't breathe"), example("¿Cuánto cuesta el PRP?"), example("what are ADRC's")]
    tests = [example("i cant  breathe"), example("cuanto cuesta el prp"), example("What are ADRCs"),
             example("what is prp")]  # fmt: skip
    assert [test.text for test, _ in exact_copies(training, tests)] == [
        "i cant  breathe", "cuanto cuesta el prp", "What are ADRCs"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "first, second, near",
    [
        ("is prp saef for me", "is prp safe for me", True),  # a swap: 2 edits
        ("who qualifys for prp", "who qualifies for prp", True),  # 'y' -> 'i', + 'e'
        ("what is hydro disection", "what is hydrodissection", True),
        ("will ibuprofin help", "will ibuprofen help", True),
        ("does prp hurt a lot", "does rfa hurt a lot", False),  # 3 edits: another treatment
        ("abcdefghijklmn", "abcdefghijk", False),  # 3 deletions
        ("", "ab", True),
        ("abc", "", False),
    ],
)
def test_edit_distance_within_two(first, second, near):
    assert within_edits(first, second) is near
    assert within_edits(second, first) is near


def test_near_copies_need_the_same_label_and_enough_length():
    training = [
        example("is prp saef for me"),
        example("what does facet joint degeneration mean", "faq/facet_degeneration_what"),
        example("is it saef", "faq/prp_safety"),  # too short to judge
        example("PLEASE HELP my mom colapsed", "emergency"),
    ]
    tests = [
        example("Is PRP safe for me?"),
        example("what does facet joint regeneraton mean", "faq/regenerative_overview"),
        example("is it safe", "faq/prp_safety"),
        example("please help my mom collapsed", "emergency", "emergency_dev.yml"),
    ]
    found = [(test.text, seen.text) for test, seen in near_copies(training, tests)]
    assert found == [
        ("Is PRP safe for me?", "is prp saef for me"),
        ("please help my mom collapsed", "PLEASE HELP my mom colapsed"),
    ]


@pytest.mark.parametrize(
    "first, second, agree",
    [
        ("deny", "feedback_negative", False),
        ("not_emergency", "faq/cost_insurance", True),
        ("not_emergency", "emergency", False),
        ("faq", "faq/prp_what", True),
        ("faq", "deny", False),
        ("faq/prp_what", "faq/adrc", False),
    ],
)
def test_labels_agree(first, second, agree):
    assert labels_agree(first, second) is agree
    assert labels_agree(second, first) is agree


def test_a_sentence_with_two_labels_is_a_conflict():
    examples = [
        example("no, that's not it", "deny", "nlu.yml"),
        example("No that's not it", "feedback_negative", "nlu.yml"),
        example("cuánto cuesta el PRP?", "not_emergency", "emergency_cases.yml"),
        example("cuanto cuesta el PRP", "faq/cost_insurance", "nlu.yml"),
    ]
    assert set(label_conflicts(examples)) == {"no thats not it"}


def test_a_new_test_set_is_picked_up_by_name(tmp_path):
    for name in ("nlu_realstyle_blind.yml", "emergency_new.yml", "test_stories.yml", "other.yml"):
        (tmp_path / name).write_text('version: "3.1"\nnlu: []\n', encoding="utf-8")
    assert [path.name for path in find_test_sets(tmp_path)] == [
        "emergency_new.yml",
        "nlu_realstyle_blind.yml",
    ]


def test_conversation_test_messages_are_read_with_their_intents(tmp_path):
    path = tmp_path / "stories.yml"
    path.write_text(
        "stories:\n- story: s\n  steps:\n  - user: |\n      no thanks\n    intent: deny\n  - action: utter_x\n",
        encoding="utf-8",
    )
    assert conversation_examples(path) == [Example("stories.yml", "deny", "no thanks")]
