"""Builds the offline spaCy pipeline that Rasa's SpacyNLP loads.

No official spaCy pipeline can be downloaded on our machines, so we build a blank English one
with a lookup lemmatizer whose tables come from the `spacy-lookups-data` package on PyPI.
It has no word vectors: its job is tokenization and lemmas (for the count-vector features and
the red-flag matcher). It also carries a small table of real English words that sit one typo
away from a red-flag keyword ("never" vs "fever"), so the matcher never "corrects" them, and the
Spanish word forms of the rules' Spanish words ("puedo" -> "poder"), since the pipeline is English.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot import PROJECT_ROOT

PIPELINE_NAME = "en_facet_clinic"
PIPELINE_VERSION = "1.0.0"
DEFAULT_OUTPUT = PROJECT_ROOT / "build" / "spacy" / PIPELINE_NAME
# log-probability in spaCy's English or Spanish frequency table above which a word counts as real
COMMON_WORD_LOG_PROB = -13.0
# ... or above this one if it is also in a dictionary (see known_words_near_keywords)
RARE_WORD_LOG_PROB = -16.0
# ... and above which a word is common English ("he", "son"), never read as a Spanish word form
COMMON_ENGLISH_LOG_PROB = -12.0
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def one_edit_neighbours(word: str) -> set[str]:
    """Every string one deletion, swap, replacement or insertion away from word."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in LETTERS}
    inserts = {a + c + b for a, b in splits for c in LETTERS}
    return deletes | swaps | replaces | inserts


def _lookup_data(lang: str, table: str) -> dict:
    """A table of spacy-lookups-data as a plain dict with its words (spaCy's Table keeps only hashes)."""
    import spacy_lookups_data
    import srsly

    return srsly.read_gzip_json(spacy_lookups_data.get_file(f"{lang}_{table}.json.gz"))


def _folded_probabilities(lang: str) -> dict[str, float]:
    """spaCy's word log-probabilities for a language, keyed by folded form (accents off)."""
    from bot.nlu.red_flag_matcher import fold

    folded: dict[str, float] = {}
    for word, probability in _lookup_data(lang, "lexeme_prob").items():
        key = fold(word)
        folded[key] = max(probability, folded.get(key, -100.0))
    return folded


def known_words_near_keywords(
    english: dict[str, float] | None = None, spanish: dict[str, float] | None = None
) -> list[str]:
    """Real English or Spanish words one edit from a red-flag keyword: never to be treated as typos."""
    from bot.nlu.red_flag_matcher import MIN_TYPO_LENGTH, keywords_of, load_rules

    english = english if english is not None else _folded_probabilities("en")
    spanish = spanish if spanish is not None else _folded_probabilities("es")
    dictionary = _dictionary_words()
    keywords = keywords_of(load_rules())
    candidates = set()
    for keyword in keywords:
        if len(keyword) >= MIN_TYPO_LENGTH:
            candidates |= one_edit_neighbours(keyword)
        elif len(keyword) == MIN_TYPO_LENGTH - 1:
            candidates |= adjacent_swaps(keyword)

    def is_known(word: str) -> bool:
        # Web-text frequencies also count common misspellings ("controll"): a word of middling
        # frequency is protected only if a dictionary (the lemma tables) knows it too.
        probability = max(english.get(word, -100.0), spanish.get(word, -100.0))
        return probability > COMMON_WORD_LOG_PROB or (probability > RARE_WORD_LOG_PROB and word in dictionary)

    return sorted(word for word in candidates - keywords if is_known(word))


def adjacent_swaps(word: str) -> set[str]:
    return {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}


def _dictionary_words() -> set[str]:
    """Every word form and lemma in the English and Spanish lemma tables, folded."""
    from bot.nlu.red_flag_matcher import fold

    words: set[str] = set()
    for lang in ("en", "es"):
        for form, lemma in _lookup_data(lang, "lemma_lookup").items():
            words.add(fold(form))
            words.add(fold(lemma))
    return words


def spanish_lemmas_for_keywords(
    english: dict[str, float] | None = None, spanish: dict[str, float] | None = None
) -> dict[str, str]:
    """{Spanish word form: lemma} for the lemmas of the rules' Spanish words, accents off.

    Lets a rule say "poder orinar" and match "no puedo/pude/podía orinar". English words are
    left out ("he", "son", "pies", "pulse") so English text keeps its own lemmas: common English
    words, English inflected forms, and English dictionary words more frequent in English.
    """
    from bot.nlu.red_flag_matcher import fold, keywords_of, load_rules

    english = english if english is not None else _folded_probabilities("en")
    spanish = spanish if spanish is not None else _folded_probabilities("es")
    english_lemmas = {fold(form): fold(lemma) for form, lemma in _lookup_data("en", "lemma_lookup").items()}
    english_words = set(english_lemmas) | set(english_lemmas.values())

    def is_english(word: str) -> bool:
        frequency = english.get(word, -100.0)
        return (
            frequency > COMMON_ENGLISH_LOG_PROB
            or word in english_lemmas
            or (word in english_words and frequency >= spanish.get(word, -100.0))
        )

    table = _lookup_data("es", "lemma_lookup")
    folded = {fold(form): fold(lemma) for form, lemma in table.items()}
    # Follow chains ("despierta" -> "despierto" -> "despertar") so every form meets one lemma.
    for _ in range(2):
        folded = {form: folded.get(lemma, lemma) for form, lemma in folded.items()}
    lemmas = set(folded.values())
    targets = {
        folded.get(word, word)
        for word in keywords_of(load_rules())
        if (word in folded or word in lemmas) and not is_english(word)
    }
    return {
        form: lemma
        for form, lemma in folded.items()
        if lemma in targets and form != lemma and not is_english(form)
    }


def build_pipeline():
    """A blank English pipeline with an initialized lookup lemmatizer."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lookup tables from spacy-lookups-data
    from bot.nlu.red_flag_matcher import KNOWN_WORDS_TABLE, SPANISH_LEMMAS_TABLE

    english, spanish = _folded_probabilities("en"), _folded_probabilities("es")
    known = known_words_near_keywords(english, spanish)
    nlp.vocab.lookups.add_table(KNOWN_WORDS_TABLE, {w: True for w in known})
    nlp.vocab.lookups.add_table(SPANISH_LEMMAS_TABLE, spanish_lemmas_for_keywords(english, spanish))
    nlp.meta["name"] = PIPELINE_NAME.removeprefix("en_")
    nlp.meta["version"] = PIPELINE_VERSION
    nlp.meta["description"] = "Blank English + lookup lemmatizer, built offline for the clinic bot"
    return nlp


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    build_pipeline().to_disk(args.output)
    print(f"spaCy pipeline written to {args.output}")


if __name__ == "__main__":
    main()
