"""`red_flags_in(text)`: the red-flag check for callers outside Rasa (the channels' safety net).

Inside Rasa the `RedFlagDetector` component gets a parsed doc; a channel has only the raw text,
possibly huge or hostile, and calls from worker threads. This module loads the spaCy pipeline
once per process, reads the text in overlapping windows (`text_windows`), serialises the use
of spaCy's shared state with a lock, and keeps the tokenizer's vocab from growing without bound.
"""

from __future__ import annotations

import threading
from typing import List, Optional

from bot.nlu.text_windows import window_bounds

# spaCy's tokenizer keeps every new word it sees in its vocab for good; past this many strings it
# is replaced by a fresh one with the same rules, so huge or hostile messages cannot grow memory.
MAX_TOKENIZER_STRINGS = 400_000
_loaded: Optional[list] = None
_load_lock = threading.Lock()
_use_lock = threading.Lock()


def _pipeline() -> list:
    """[tokenizer, matcher]: the pipeline is loaded once per process."""
    global _loaded
    with _load_lock:
        if _loaded is None:
            import spacy

            # Imported here, not at the top: red_flag_matcher re-exports red_flags_in from this
            # module, and loading spaCy waits for the first call.
            from bot.nlu.red_flag_matcher import RedFlagMatcher
            from bot.nlu.spacy_pipeline import DEFAULT_OUTPUT

            nlp = spacy.load(DEFAULT_OUTPUT)
            _loaded = [nlp.tokenizer, RedFlagMatcher.for_pipeline(nlp)]
        elif len(_loaded[0].vocab.strings) > MAX_TOKENIZER_STRINGS:
            import spacy

            # the pipeline is spacy.blank("en") plus tables: its tokenizer is blank English's
            _loaded[0] = spacy.blank("en").tokenizer
        return _loaded


def red_flags_in(text: str) -> List[str]:
    """Names of the red flags (not negated) in a message of any length, sorted; [] if none.

    Loads the spaCy pipeline on first use. Thread-safe (callable through asyncio.to_thread):
    tokenizing and matching share spaCy state, so they run one window at a time under a lock.
    Time grows linearly with the text: about 2 ms per 2,000 characters of patient text here
    (7 ms if every word is new to spaCy), so a caller that must answer fast can pass a bounded
    part of a huge message (1 MB of patient text takes about a second).
    """
    if not text or not text.strip():
        return []
    tokenizer, matcher = _pipeline()
    flags = set()
    for start, end in window_bounds(text):
        with _use_lock:
            # lowercased like the NLU pipeline (SpacyNLP case_sensitive: false): same tokens, same answer
            words = [token.text for token in tokenizer(text[start:end].lower())]
            found = matcher.find_in_words(words)
        flags.update(flag.flag for flag in found if not flag.negated)
    return sorted(flags)
