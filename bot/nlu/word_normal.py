"""The normal form of a word: what the red-flag rules and a message's words are compared as.

Rule words and message words go through the same steps, so that "legs"/"leg", "puedo"/"poder",
"inyección"/"inyeccion" and "numbnes"/"numbness" meet: lower case and accents off (`fold`), a few
texting abbreviations, a lemma (the pipeline's English lookup table, or a small Spanish table
built with the pipeline: `Lemmatizer`), then, for message words only (`WordNormalizer`): Spanish
pronouns written onto a verb taken off ("tomármelas" -> "tomar"), one-letter typo correction
towards a rule word, and Spanish words spelled as they sound ("pastiyas", "bomitar", "inchada").
Kept apart from the matching so each can be read alone.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import groupby
from typing import Callable, Container, Dict, Iterable, List, Mapping, Sequence, Tuple

# Name of the spaCy lookup table of real words one typo away from a keyword (bot/nlu/spacy_pipeline.py).
KNOWN_WORDS_TABLE = "red_flag_known_words"
# Name of the lookup table {Spanish word form: lemma}, restricted to the lemmas the rules use.
SPANISH_LEMMAS_TABLE = "red_flag_es_lemmas"
# Sentinels around every message, so a rule can say "at the start" (^) or "at the end" ($).
START, END = "<s>", "</s>"
# Keywords this long or longer are typo targets; a word one letter shorter can still be a typo of
# one ("fevr"), if it is not a known word.
MIN_TYPO_LENGTH = 5
CALENDAR_YEAR = re.compile(r"^(19|20)\d\d$")
# A count of 6 or more ("took 10 of my oxycodone") reads as "manynum"; smaller counts stay as they are.
MANY = "manynum"
UNITS = frozenset({"mg", "mcg", "ml", "g", "gr", "milligram", "milligrams", "miligramos", "units", "iu", "%",
                   "percent", "mgs", "cc", "mm", "cm", "lb", "lbs", "kg", "am", "pm", "minutes", "minutos",
                   "hours", "horas", "days", "dias", "weeks", "semanas", "years", "anos", "year", "ano"})  # fmt: skip
# Texting and tokenizer leftovers the lemma table does not know ("can't" -> "ca" + "n't").
EXTRA_LEMMAS: Mapping[str, str] = {
    "ca": "can", "wo": "will", "'re": "be", "re": "be", "'ll": "will", "'d": "would",
    "u": "you", "ur": "your", "r": "be", "pls": "please", "plz": "please", "rn": "now",
    "im": "i", "ive": "i", "ya": "you", "wanna": "want", "gotta": "must", "cuz": "because",
    "bc": "because", "q": "que", "k": "que", "xq": "porque", "pq": "porque", "porq": "porque",
    "toy": "estoy", "tb": "tambien", "tmb": "tambien", "x": "por", "pa": "para",
}  # fmt: skip
ACCENTS = str.maketrans("áéíóúüàèìòùâêîôûäëïöñ’‘`´", "aeiouuaeiouaeiouaeion''''")
REPEATS = re.compile(r"(.)\1{2,}")  # "helppp", "pleeease"
# A Spanish infinitive, gerund or imperative with one or two pronouns written onto it:
# "tomármelas" (tomar + me + las), "matándome", "llévenme". The stem must be a rule word's form.
CLITICS = re.compile(r"^(.{3,}?(?:ar|er|ir|ando|iendo|yendo|en|an))(?:me|se|nos|lo|la|le|los|las|les){1,2}$")
# Spanish letters that sound alike, so patients swap them: ll/y, b/v, s/z/c(e,i), j/g(e,i), a silent h.
_SILENT_H = re.compile(r"(?<!c)h")
_SOFT_C = re.compile(r"c(?=[ei])")
_SOFT_G = re.compile(r"g(?=[ei])")
_DOUBLED = re.compile(r"(.)\1")


def fold(word: str) -> str:
    """Lower case, accents and tildes off (Spanish is often typed without them), straight apostrophes."""
    return word.lower().translate(ACCENTS)


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


def spanish_sound(word: str) -> str:
    """A folded word as Spanish says it: "pastiyas" and "pastillas", "bomitar" and "vomitar" meet."""
    word = word.replace("ll", "y").replace("v", "b").replace("z", "s")
    if "h" in word:
        word = _SILENT_H.sub("", word)
    if "c" in word:
        word = _SOFT_C.sub("s", word)
    if "g" in word:
        word = _SOFT_G.sub("j", word)
    if _DOUBLED.search(word):  # "pastillas" / "pastilas": letters written twice count once
        word = "".join(letter for letter, _ in groupby(word))
    return word


def _deletions(word: str) -> List[str]:
    return [word[:i] + word[i + 1 :] for i in range(len(word))]


class Lemmatizer:
    """The normal form of a correctly spelled (folded) word: Spanish table first, then English."""

    def __init__(self, english_lemma: Callable[[str], str], spanish_lemmas: Mapping[str, str]) -> None:
        self._english_lemma = english_lemma
        self._spanish_lemmas = spanish_lemmas
        self._spanish_lemma_set = frozenset(spanish_lemmas.values())

    def is_spanish(self, word: str) -> bool:
        """True for a Spanish form or lemma of the rules' Spanish words ("pastillas", "orinar")."""
        return word in self._spanish_lemma_set or bool(self._spanish_lemmas.get(word))

    def __call__(self, word: str) -> str:
        word = EXTRA_LEMMAS.get(word, word)
        spanish = self._spanish_lemmas.get(word)
        if spanish:
            return spanish
        return fold(self._english_lemma(word))


class WordNormalizer:
    """A message's words as normal forms, with typos of rule words corrected.

    Args:
        lemma: the Lemmatizer the rules were compiled with.
        keywords: every literal word of the rules (`keywords_of`): the typo targets.
        rule_words: every normal form some pattern slot mentions; a word already one of these is
            never "corrected".
        known_words: real words that must never be "corrected" into a keyword ("never" is one
            letter from "fever"). Built with the spaCy pipeline.
    """

    def __init__(
        self,
        lemma: Callable[[str], str],
        keywords: Iterable[str],
        rule_words: Iterable[str],
        known_words: Container[str],
    ) -> None:
        self._lemma = lemma
        self._keywords = frozenset(keywords)
        self._rule_words = frozenset(rule_words) | {START, END}
        self._known_words = known_words
        self._typo_index: Dict[str, List[str]] = {}
        for target in sorted(w for w in self._keywords if len(w) >= MIN_TYPO_LENGTH and w.isalpha()):
            for key in [target, *_deletions(target)]:
                self._typo_index.setdefault(key, []).append(target)
        # Spanish keywords by sound ("pastiyas" is two edits from "pastillas", but sounds the same).
        is_spanish = getattr(lemma, "is_spanish", lambda word: False)
        self._sounds: Dict[str, str] = {}
        for target in sorted(w for w in self._keywords if len(w) >= MIN_TYPO_LENGTH and w.isalpha()):
            if is_spanish(target):
                self._sounds.setdefault(spanish_sound(target), target)
        # Shorter keywords are too close to other words for any edit but a swap ("pian" -> "pain").
        self._swaps: Dict[str, str] = {}
        for target in sorted(w for w in self._keywords if len(w) == MIN_TYPO_LENGTH - 1 and w.isalpha()):
            for i in range(len(target) - 1):
                self._swaps.setdefault(target[:i] + target[i + 1] + target[i] + target[i + 2 :], target)
        # Normalising a word is pure: cache it (bounded; lru_cache is thread-safe).
        self.normalize = lru_cache(maxsize=50_000)(self._normalize_uncached)

    def normal_forms(self, tokens: Sequence[str]) -> Tuple[List[str], List[str]]:
        """(words, lemmas) the patterns are matched on, with start and end sentinels."""
        words = [START] + [fold(token) for token in tokens] + [END]
        lemmas = [START] + [self.normalize(word) for word in words[1:-1]] + [END]
        for position, lemma in enumerate(lemmas):
            if lemma == MANY and words[position + 1] in UNITS:  # "800 mg" is a dose, not a count
                lemmas[position] = words[position]
        return words, lemmas

    def _normalize_uncached(self, word: str) -> str:
        if CALENDAR_YEAR.match(word):
            return "year"
        lemma = self._lemma(word)
        if lemma in self._rule_words or word in self._keywords:
            return lemma
        if word.isdigit() and 6 <= int(word) < 1000:
            return MANY
        if not word.isalpha():
            return lemma
        clitics = CLITICS.match(word)
        if clitics and self._lemma(clitics.group(1)) in self._rule_words:
            return self._lemma(clitics.group(1))
        if REPEATS.search(word):
            for squeezed in (REPEATS.sub(r"\1", word), REPEATS.sub(r"\1\1", word)):
                if self._lemma(squeezed) in self._rule_words:
                    return self._lemma(squeezed)
            word = REPEATS.sub(r"\1\1", word)
        if len(word) < MIN_TYPO_LENGTH - 1 or word in self._known_words:
            return lemma
        if word in self._swaps:
            return self._lemma(self._swaps[word])
        for key in (word, *_deletions(word)):
            for target in self._typo_index.get(key, ()):
                if target[0] == word[0] and edit_distance_at_most_one(word, target):
                    return self._lemma(target)
        if len(word) >= MIN_TYPO_LENGTH:
            target = self._sounds.get(spanish_sound(word))
            if target:
                return self._lemma(target)
        return lemma
