"""The red-flag rules: `red_flags.yml` read into `FlagRule`s, and its phrase language compiled.

Rules live in a YAML file so a clinician can review them without reading Python; this module is
the only one that knows that file's layout (groups, flags, the question word lists) and its
phrase syntax ("~" gaps, "?" optional words, "!" exclusions, "=" exact forms, "^"/"$" sentinels,
"@group" alternatives). A phrase becomes a spaCy Matcher-style token pattern (`phrase_to_pattern`)
so spaCy's own Matcher can check what the faster `AnchoredMatcher` finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, FrozenSet, Iterable, List, Mapping

import yaml

from bot.nlu.word_normal import END, START, fold

RULES_PATH = Path(__file__).with_name("red_flags.yml")
MAX_GAP = 4  # "~"
MAX_LONG_GAP = 8  # "~~", for the few phrases whose parts sit far apart
SENTINELS = {"^": START, "$": END}


@dataclass(frozen=True)
class FlagRule:
    name: str
    phrases: List[str]
    negatable: bool
    requires_any: FrozenSet[str]
    unless_any: FrozenSet[str] = frozenset()
    # Ignored in a general question ("can PRP cause a fever?"): a generic cue and nobody's symptom.
    unless_generic: bool = False


@dataclass(frozen=True)
class RuleSet:
    rules: List[FlagRule]
    generic_cues: FrozenSet[str] = frozenset()
    person_words: FrozenSet[str] = frozenset()
    question_openers: FrozenSet[str] = frozenset()
    course_questions: FrozenSet[str] = frozenset()
    # "can the RFA ...", "does PRP ...": about a treatment in general, whoever asks
    subject_questions: FrozenSet[str] = frozenset()
    question_subjects: FrozenSet[str] = frozenset()


def expand_groups(phrase: str, groups: Mapping[str, str]) -> str:
    """Replaces each "@name" alternative ("@meds", "@meds?", "@site|where") with the group's words."""
    words = []
    for word in phrase.split():
        if "@" in word:
            optional = "?" if word.endswith("?") else ""
            alternatives = []
            for alt in word.rstrip("?").split("|"):
                if alt.startswith("@"):
                    if alt[1:] not in groups:
                        raise ValueError(f"unknown group {alt!r} in {phrase!r}")
                    alt = groups[alt[1:]]
                alternatives.append(alt)
            word = "|".join(alternatives) + optional
        words.append(word)
    return " ".join(words)


def load_rule_set(path: Path = RULES_PATH) -> RuleSet:
    """The whole rules file: the flags and the word lists that tell a general question."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    groups = {
        name: fold("|".join(value) if isinstance(value, list) else value)
        for name, value in (data.get("groups") or {}).items()
    }

    def words(items: Iterable[str]) -> FrozenSet[str]:
        return frozenset(w for item in items for w in expand_groups(fold(item), groups).split("|"))

    rules = [
        FlagRule(
            name=name,
            phrases=[expand_groups(fold(p), groups) for p in spec["phrases"]],
            negatable=bool(spec.get("negatable", True)),
            requires_any=words(spec.get("requires_any", [])),
            unless_any=words(spec.get("unless_any", [])),
            unless_generic=bool(spec.get("unless_generic", False)),
        )
        for name, spec in data["flags"].items()
    ]
    return RuleSet(
        rules,
        words(data.get("generic_cues", [])),
        words(data.get("person_words", [])),
        words(data.get("question_openers", [])),
        frozenset(fold(opener) for opener in data.get("course_questions", [])),
        words(data.get("subject_questions", [])),
        words(data.get("question_subjects", [])),
    )


def load_rules(path: Path = RULES_PATH) -> List[FlagRule]:
    return load_rule_set(path).rules


def _alternatives(word: str) -> List[str]:
    return [SENTINELS.get(alt, alt) for alt in word.rstrip("?").split("|")]


def phrase_to_pattern(phrase: str, lemma_of: Callable[[str], str] = lambda word: word) -> List[Dict]:
    """Turns one phrase of red_flags.yml into a spaCy Matcher pattern (see the file's header).

    Each word also matches its own normal form, so "living" in a phrase matches "living" and "live".
    """
    pattern: List[Dict] = []
    for word in fold(phrase).split():
        if word in ("~", "~~"):
            pattern.extend({"OP": "?"} for _ in range(MAX_GAP if word == "~" else MAX_LONG_GAP))
            continue
        optional = word.endswith("?")
        if word.startswith("!"):
            # any one word but these (the end of the message counts as a word here)
            excluded = _alternatives(word[1:])
            token: Dict = {"LEMMA": {"NOT_IN": sorted(set(excluded) | {lemma_of(w) for w in excluded})}}
        else:
            alternatives = _alternatives(word)
            surface = [alt[1:] for alt in alternatives if alt.startswith("=")]
            if surface and len(surface) != len(alternatives):
                raise ValueError(f"mixes exact forms and lemmas in one word: {word!r} ({phrase!r})")
            attribute = "LOWER" if surface else "LEMMA"
            choices = surface or sorted(
                set(alternatives) | {lemma_of(alt) for alt in alternatives if alt not in (START, END)}
            )
            token = {attribute: {"IN": choices}}
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
                if word in ("~", "~~"):
                    continue
                words.update(
                    alt.lstrip("=") for alt in _alternatives(word.lstrip("!")) if alt not in (START, END)
                )
    return frozenset(words)
