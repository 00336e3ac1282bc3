"""Finds red-flag descriptions (possible emergencies) in a spaCy Doc or in plain text.

No Rasa here: the Rasa component in `red_flags.py` and the channels' safety net both use it.
`RedFlagMatcher` puts the parts together; each part is a module of its own:

- `red_flag_rules`: reads `red_flags.yml` (clinician-reviewed rules) and compiles its phrases
  to spaCy-style token patterns (`phrase_to_pattern`);
- `word_normal`: the one normalisation every word goes through, of the message and of the rules
  alike (case, accents, texting abbreviations, English/Spanish lemma, typo correction);
- `anchored_matcher`: runs the patterns (same matches as spaCy's Matcher, ~45x faster here);
- `negation`: negated ("no fever") and hypothetical ("what if ...") mentions;
- `general_questions`: "can PRP cause a fever?" is a question, not a symptom;
- `text_windows` and `red_flag_text`: `red_flags_in(text)` for callers outside Rasa (channels),
  on text of any length, from any thread.

The names callers import (`RedFlagMatcher`, `red_flags_in`, `load_rules`, `phrase_to_pattern`,
`fold`, `keywords_of`, the table names ...) stay importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Container, Dict, List, Mapping, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc

from bot.nlu.anchored_matcher import FREQUENT_WORDS, AnchoredMatcher, compile_pattern
from bot.nlu.general_questions import GeneralQuestions
from bot.nlu.negation import (
    CLAUSE_BREAKS,
    HYPOTHETICAL_CUES,
    HYPOTHETICAL_WINDOW,
    NEGATION_CONSUMERS,
    NEGATION_CUES,
    NEGATION_WINDOW,
    cues_of,
    is_negated,
)
from bot.nlu.red_flag_rules import (
    MAX_GAP,
    MAX_LONG_GAP,
    RULES_PATH,
    SENTINELS,
    FlagRule,
    RuleSet,
    expand_groups,
    keywords_of,
    load_rule_set,
    load_rules,
    phrase_to_pattern,
)
from bot.nlu.red_flag_text import red_flags_in
from bot.nlu.text_windows import WINDOW_CHARS, WINDOW_OVERLAP, window_bounds
from bot.nlu.word_normal import (
    ACCENTS,
    CALENDAR_YEAR,
    END,
    EXTRA_LEMMAS,
    KNOWN_WORDS_TABLE,
    MANY,
    MIN_TYPO_LENGTH,
    REPEATS,
    SPANISH_LEMMAS_TABLE,
    START,
    UNITS,
    Lemmatizer,
    WordNormalizer,
    edit_distance_at_most_one,
    fold,
)

__all__ = [
    "ACCENTS", "CALENDAR_YEAR", "CLAUSE_BREAKS", "END", "EXTRA_LEMMAS", "FREQUENT_WORDS",
    "HYPOTHETICAL_CUES", "HYPOTHETICAL_WINDOW", "KNOWN_WORDS_TABLE", "MANY", "MAX_GAP",
    "MAX_LONG_GAP", "MIN_TYPO_LENGTH", "NEGATION_CONSUMERS", "NEGATION_CUES", "NEGATION_WINDOW",
    "REPEATS", "RULES_PATH", "SENTINELS", "SPANISH_LEMMAS_TABLE", "START", "UNITS", "WINDOW_CHARS",
    "WINDOW_OVERLAP", "AnchoredMatcher", "FlagRule", "RedFlag", "RedFlagMatcher", "RuleSet",
    "compile_pattern", "edit_distance_at_most_one", "expand_groups", "fold", "keywords_of",
    "load_rule_set", "load_rules", "phrase_to_pattern", "red_flags_in", "window_bounds",
]  # fmt: skip


@dataclass(frozen=True)
class RedFlag:
    """One red-flag phrase found in a message."""

    flag: str
    text: str
    negated: bool


class RedFlagMatcher:
    """Matches red-flag phrases over normalised words, tolerant of typos, aware of negation.

    Args:
        known_words: real words that must never be "corrected" into a keyword
            (e.g. "never" is one letter from "fever"). Built with the spaCy pipeline.
        rules: the flag rules (default: red_flags.yml), or a whole RuleSet.
        lemma_of: the pipeline's English lemma lookup.
        spanish_lemmas: {Spanish form: lemma} for the Spanish words the rules use.
    """

    def __init__(
        self,
        known_words: Container[str] = frozenset(),
        rules: Optional[List[FlagRule] | RuleSet] = None,
        lemma_of: Callable[[str], str] = lambda word: word,
        spanish_lemmas: Mapping[str, str] | None = None,
    ) -> None:
        rule_set = rules if isinstance(rules, RuleSet) else None
        if rule_set is None:
            rule_set = RuleSet(rules) if rules is not None else load_rule_set()
        lemma = Lemmatizer(lemma_of, spanish_lemmas or {})
        self._rules = {rule.name: rule for rule in rule_set.rules}
        self._questions = GeneralQuestions(rule_set, lemma)
        self._matcher = AnchoredMatcher()
        self.patterns: List[tuple] = []  # (flag name, spaCy-style token pattern), for inspection
        rule_words = set()
        for rule in self._rules.values():
            patterns = [phrase_to_pattern(p, lemma) for p in rule.phrases]
            for token in (token for pattern in patterns for token in pattern):
                for spec in token.values():
                    if isinstance(spec, dict):
                        rule_words.update(*spec.values())
            for pattern in patterns:
                self._matcher.add(rule.name, compile_pattern(pattern))
                self.patterns.append((rule.name, pattern))
        # Requirements match in normal form too ("inyecciones" meets "inyección").
        self._requires = {
            n: frozenset(map(lemma, r.requires_any)) | r.requires_any for n, r in self._rules.items()
        }
        self._unless = {n: frozenset(map(lemma, r.unless_any)) | r.unless_any for n, r in self._rules.items()}
        self._normalizer = WordNormalizer(lemma, keywords_of(self._rules.values()), rule_words, known_words)

    @classmethod
    def for_pipeline(
        cls, nlp: Language, rules: Optional[List[FlagRule] | RuleSet] = None
    ) -> "RedFlagMatcher":
        """A matcher using the pipeline's lemma tables and its protected-words table."""
        lemmas = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
        lookups = nlp.vocab.lookups
        known = lookups.get_table(KNOWN_WORDS_TABLE) if lookups.has_table(KNOWN_WORDS_TABLE) else frozenset()
        spanish = lookups.get_table(SPANISH_LEMMAS_TABLE) if lookups.has_table(SPANISH_LEMMAS_TABLE) else {}
        return cls(
            known,
            rules=rules,
            lemma_of=lambda word: lemmas.get(word, word),
            spanish_lemmas=spanish,
        )

    def find(self, doc: Doc) -> List[RedFlag]:
        """All red-flag phrases in the doc, negated ones included (marked)."""
        return self.find_in_words([token.text for token in doc])

    def find_in_words(self, tokens: Sequence[str]) -> List[RedFlag]:
        """As find(), on the words of a tokenized message."""
        if not tokens:
            return []
        words, lemmas = self.normal_forms(tokens)
        present = set(lemmas) | set(words)
        generic = self._questions.is_general(words, lemmas, present)
        cues = cues_of(tokens, lemmas)
        found: Dict[tuple, RedFlag] = {}
        for name, start, end in self._matcher(lemmas, words):
            rule = self._rules[name]
            if rule.requires_any and not (self._requires[name] & present):
                continue
            if self._unless[name] & present or (rule.unless_generic and generic):
                continue
            negated = rule.negatable and is_negated(cues, start)
            # Report the original words, sentinels left out.
            text = " ".join(tokens[max(start - 1, 0) : min(end - 1, len(tokens))])
            key = (name, start)
            if key not in found or len(found[key].text) < len(text):
                found[key] = RedFlag(name, text, negated)
        return sorted(found.values(), key=lambda flag: (flag.flag, flag.text))

    def normal_forms(self, tokens: Sequence[str]) -> Tuple[List[str], List[str]]:
        """(words, lemmas) the patterns are matched on, with start and end sentinels."""
        return self._normalizer.normal_forms(tokens)

    def matches(self, tokens: Sequence[str]) -> set:
        """{(flag name, start)} of every raw pattern match, before any requirement or negation."""
        words, lemmas = self.normal_forms(tokens)
        return {(name, start) for name, start, _ in self._matcher(lemmas, words)}

    def active_flags(self, doc: Doc) -> List[RedFlag]:
        """The red flags that are not negated: any of these means 'emergency'."""
        return [flag for flag in self.find(doc) if not flag.negated]
