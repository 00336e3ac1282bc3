"""red_flags_in(text): the channels' check on plain text of any length, from any thread."""

from __future__ import annotations

import asyncio
import random

import pytest
import spacy

from bot.nlu import red_flag_text
from bot.nlu.red_flag_matcher import WINDOW_CHARS, WINDOW_OVERLAP, red_flags_in, window_bounds

FILLER = "The clinic opens at nine and the parking lot is behind the building. "
RED_FLAG = "I can't feel my legs"


def filler(chars: int) -> str:
    return (FILLER * (chars // len(FILLER) + 1))[:chars]


def test_filler_alone_is_not_an_emergency():
    assert red_flags_in(filler(50_000)) == []


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_has_no_flags(text):
    assert red_flags_in(text) == []


def test_flag_names_are_returned_sorted_and_once():
    assert red_flags_in("I took too many pills and I want to die. I want to die.") == [
        "overdose",
        "self_harm",
    ]


def test_a_red_flag_buried_in_a_huge_message_is_found():
    text = filler(150_000) + " " + RED_FLAG + " " + filler(150_000)
    assert "leg_weakness" in red_flags_in(text)


def test_a_red_flag_is_found_wherever_a_window_boundary_falls():
    # slide the phrase across the first window's end, one character at a time
    for offset in range(WINDOW_CHARS - 2 * WINDOW_OVERLAP, WINDOW_CHARS + 50, 3):
        text = filler(offset) + " " + RED_FLAG + " " + filler(3 * WINDOW_CHARS)
        assert "leg_weakness" in red_flags_in(text), offset


def test_negation_and_case_work_as_in_the_nlu_pipeline():
    assert red_flags_in("NO FEVER, no numbness, just a stiff back") == []
    assert red_flags_in("NO FEVER BUT MY LEGS ARE GIVING OUT") == ["leg_weakness"]


@pytest.mark.parametrize("length", [1, 10, WINDOW_CHARS, WINDOW_CHARS + 1, 7_777, 50_000])
def test_windows_cover_the_text_overlap_and_keep_words_whole(length):
    rng = random.Random(length)
    text = ""
    while len(text) < length:
        text += "".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, 12))) + rng.choice(" \n")
    text = text[:length]
    bounds = window_bounds(text)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
    for (start, end), (next_start, _) in zip(bounds, bounds[1:], strict=False):
        assert end - start <= WINDOW_CHARS
        assert start < next_start < end  # progress, and an overlap
        assert end - next_start >= WINDOW_OVERLAP - 13  # at most one word's worth short
        assert text[end].isspace() and text[next_start - 1].isspace()  # cut between words
    # any 300-character stretch lies whole in some window
    span = min(300, len(text))
    for position in range(0, len(text) - span + 1, 97):
        assert any(start <= position and position + span <= end for start, end in bounds)


def test_concurrent_calls_from_threads_give_the_serial_answers():
    texts = [
        RED_FLAG,
        "es una emergencia, mi papá no respira",
        "what are the risks of an epidural",
        filler(5_000) + " I want to end my life " + filler(5_000),
        "can PRP cause a headache?",
        "throat swelling and hives after the shot",
    ] * 6
    serial = [red_flags_in(text) for text in texts]

    async def all_at_once():
        return await asyncio.gather(*(asyncio.to_thread(red_flags_in, text) for text in texts))

    assert asyncio.run(all_at_once()) == serial


def test_the_tokenizer_is_renewed_before_its_vocab_grows_without_bound(monkeypatch):
    red_flags_in("warm up")
    old_tokenizer = red_flag_text._pipeline()[0]
    monkeypatch.setattr(red_flag_text, "MAX_TOKENIZER_STRINGS", len(old_tokenizer.vocab.strings))
    red_flags_in("zqxv wplk never-seen-words grow the vocab")
    assert red_flags_in(RED_FLAG) == ["leg_weakness"]
    assert red_flag_text._pipeline()[0] is not old_tokenizer


def test_a_renewed_tokenizer_splits_words_like_the_pipelines(spacy_nlp):
    fresh = spacy.blank("en").tokenizer
    for text in ["can't won't i'm", "t-boned!! 911...", "¿qué?¡ayuda!", "don’t 102°F 38.5", "u r ok? lol :)"]:
        assert [t.text for t in fresh(text)] == [t.text for t in spacy_nlp.tokenizer(text)]
