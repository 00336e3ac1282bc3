"""Builds the offline spaCy pipeline that Rasa's SpacyNLP loads.

No official spaCy pipeline can be downloaded on our machines, so we build a blank English one
with a lookup lemmatizer whose tables come from the `spacy-lookups-data` package on PyPI.
It has no word vectors: its job is tokenization and lemmas (for the count-vector features and
the red-flag matcher). It also carries a small table of real English words that sit one typo
away from a red-flag keyword ("never" vs "fever"), so the matcher never "corrects" them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot import PROJECT_ROOT

PIPELINE_NAME = "en_facet_clinic"
PIPELINE_VERSION = "1.0.0"
DEFAULT_OUTPUT = PROJECT_ROOT / "build" / "spacy" / PIPELINE_NAME
# log-probability in spaCy's English frequency table above which a word counts as "real English"
COMMON_WORD_LOG_PROB = -16.0
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def one_edit_neighbours(word: str) -> set[str]:
    """Every string one deletion, swap, replacement or insertion away from word."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in LETTERS}
    inserts = {a + c + b for a, b in splits for c in LETTERS}
    return deletes | swaps | replaces | inserts


def known_words_near_keywords() -> list[str]:
    """Real words one edit from a red-flag keyword: never to be treated as typos."""
    from spacy.lookups import load_lookups

    from bot.nlu.red_flag_matcher import MIN_TYPO_LENGTH, keywords_of, load_rules

    probabilities = load_lookups("en", ["lexeme_prob"]).get_table("lexeme_prob")
    keywords = keywords_of(load_rules())
    candidates = set()
    for keyword in keywords:
        if len(keyword) >= MIN_TYPO_LENGTH:
            candidates |= one_edit_neighbours(keyword)
    return sorted(
        word for word in candidates - keywords if probabilities.get(word, -100.0) > COMMON_WORD_LOG_PROB
    )


def build_pipeline():
    """A blank English pipeline with an initialized lookup lemmatizer."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lookup tables from spacy-lookups-data
    from bot.nlu.red_flag_matcher import KNOWN_WORDS_TABLE

    nlp.vocab.lookups.add_table(KNOWN_WORDS_TABLE, {w: True for w in known_words_near_keywords()})
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
