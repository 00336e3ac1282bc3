"""Finds red-flag descriptions (possible emergencies) in a spaCy Doc.

Pure spaCy, no Rasa: the Rasa component in `red_flags.py` and the channels' safety net both use
it. Rules live in `red_flags.yml` so a clinician can review them without reading Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Container, Dict, FrozenSet, Iterable, List, Optional

import yaml
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

RULES_PATH = Path(__file__).with_name("red_flags.yml")

# Name of the spaCy lookup table of real words one typo away from a keyword (bot/nlu/spacy_pipeline.py).
KNOWN_WORDS_TABLE = "red_flag_known_words"
NEGATION_CUES = frozenset({"no", "not", "never", "without", "deny", "denies", "nor", "neither", "none"})
# Words that end the reach of a negation: "no fever but my legs are giving out".
CLAUSE_BREAKS = frozenset({"but", "however", "though", "although", "yet", "except", ".", ";", "!", "?"})
NEGATION_WINDOW = 4
MAX_GAP = 4
# Keywords this long or longer are typo targets; a word one letter shorter can still be a typo of
# one ("fevr"), if it is not a known English word.
MIN_TYPO_LENGTH = 5
CALENDAR_YEAR = re.compile(r"^(19|20)\d\d$")


@dataclass(frozen=True)
class RedFlag:
    """One red-flag phrase found in a message."""

    flag: str
    text: str
    negated: bool


@dataclass(frozen=True)
class FlagRule:
    name: str
    phrases: List[str]
    negatable: bool
    requires_any: FrozenSet[str]
    unless_any: FrozenSet[str] = frozenset()


def load_rules(path: Path = RULES_PATH) -> List[FlagRule]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        FlagRule(
            name=name,
            phrases=list(spec["phrases"]),
            negatable=bool(spec.get("negatable", True)),
            requires_any=frozenset(spec.get("requires_any", [])),
            unless_any=frozenset(spec.get("unless_any", [])),
        )
        for name, spec in data["flags"].items()
    ]


def phrase_to_pattern(phrase: str, lemma_of: Callable[[str], str] = lambda word: word) -> List[Dict]:
    """Turns one phrase of red_flags.yml into a spaCy Matcher pattern (see the file's header).

    Each word also matches its own lemma, so "living" in a phrase matches "living" and "live".
    """
    pattern: List[Dict] = []
    for word in phrase.split():
        if word == "~":
            pattern.extend({"OP": "?"} for _ in range(MAX_GAP))
            continue
        optional = word.endswith("?")
        alternatives = word.rstrip("?").split("|")
        surface = [alt[1:] for alt in alternatives if alt.startswith("=")]
        if surface and len(surface) != len(alternatives):
            raise ValueError(f"mixes exact forms and lemmas in one word: {word!r} ({phrase!r})")
        attribute = "LOWER" if surface else "LEMMA"
        choices = surface or sorted(set(alternatives) | {lemma_of(alt) for alt in alternatives})
        token: Dict = {attribute: {"IN": choices}}
        if optional:
            token["OP"] = "?"
        pattern.append(token)
    return pattern


def keywords_of(rules: Iterable[FlagRule]) -> FrozenSet[str]:
    """Every literal word the rules mention: the targets of typo correction."""
    words = set()
    for rule in rules:
        words.update(rule.requires_any | rule.unless_any)
        for phrase in rule.phrases:
            for word in phrase.split():
                words.update(alt.lstrip("=") for alt in word.rstrip("?").split("|") if alt != "~")
    return frozenset(words)


def edit_distance_at_most_one(a: str, b: str) -> bool:
    """True when a and b differ by one insertion, deletion, substitution or adjacent swap."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


class RedFlagMatcher:
    """Matches red-flag phrases over lemmas, tolerant of one-letter typos, aware of negation.

    Args:
        vocab: the spaCy vocab of the pipeline that made the docs.
        known_words: real English words that must never be "corrected" into a keyword
            (e.g. "never" is one letter from "fever"). Built with the spaCy pipeline.
        rules: the flag rules (default: red_flags.yml).
        lemma_of: the pipeline's lemma lookup, so phrases match inflected forms too.
    """

    def __init__(
        self,
        vocab: Vocab,
        known_words: Container[str] = frozenset(),
        rules: Optional[List[FlagRule]] = None,
        lemma_of: Callable[[str], str] = lambda word: word,
    ) -> None:
        self._vocab = vocab
        self._rules = {rule.name: rule for rule in (rules if rules is not None else load_rules())}
        self._keywords = keywords_of(self._rules.values())
        self._typo_targets = [word for word in self._keywords if len(word) >= MIN_TYPO_LENGTH]
        self._known_words = known_words
        self._matcher = Matcher(vocab)
        for rule in self._rules.values():
            self._matcher.add(rule.name, [phrase_to_pattern(p, lemma_of) for p in rule.phrases])

    @classmethod
    def for_pipeline(cls, nlp: Language) -> "RedFlagMatcher":
        """A matcher using the pipeline's lemma table and its protected-words table."""
        lemmas = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
        lookups = nlp.vocab.lookups
        known = lookups.get_table(KNOWN_WORDS_TABLE) if lookups.has_table(KNOWN_WORDS_TABLE) else frozenset()
        return cls(nlp.vocab, known, lemma_of=lambda word: lemmas.get(word, word))

    def find(self, doc: Doc) -> List[RedFlag]:
        """All red-flag phrases in the doc, negated ones included (marked)."""
        lemmas = [self._normalize(token.lower_, token.lemma_.lower()) for token in doc]
        words = [token.lower_ for token in doc]
        if not words:
            return []
        normalized = Doc(self._vocab, words=words, lemmas=lemmas)
        present = set(lemmas) | set(words)
        found: Dict[tuple, RedFlag] = {}
        for match_id, start, end in self._matcher(normalized):
            rule = self._rules[self._vocab.strings[match_id]]
            if rule.requires_any and not (rule.requires_any & present):
                continue
            if rule.unless_any & present:
                continue
            negated = rule.negatable and self._is_negated(lemmas, start)
            key = (rule.name, start)
            # Of overlapping matches at one start, keep the longest span for the report.
            if key not in found or len(found[key].text) < len(normalized[start:end].text):
                found[key] = RedFlag(rule.name, doc[start:end].text, negated)
        return sorted(found.values(), key=lambda flag: (flag.flag, flag.text))

    def active_flags(self, doc: Doc) -> List[RedFlag]:
        """The red flags that are not negated: any of these means 'emergency'."""
        return [flag for flag in self.find(doc) if not flag.negated]

    def _normalize(self, word: str, lemma: str) -> str:
        if CALENDAR_YEAR.match(word):
            return "year"
        if lemma in self._keywords or word in self._keywords:
            return lemma if lemma in self._keywords else word
        if len(word) < MIN_TYPO_LENGTH - 1 or not word.isalpha() or word in self._known_words:
            return lemma
        for target in self._typo_targets:
            if target[0] == word[0] and edit_distance_at_most_one(word, target):
                return target
        return lemma

    @staticmethod
    def _is_negated(lemmas: List[str], start: int) -> bool:
        for position in range(start - 1, max(-1, start - 1 - NEGATION_WINDOW), -1):
            lemma = lemmas[position]
            if lemma in CLAUSE_BREAKS:
                return False
            if lemma in NEGATION_CUES:
                return True
        return False
