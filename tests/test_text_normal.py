"""The one text comparison (bot/text_normal.py)."""

import pytest

from bot.text_normal import normalise


@pytest.mark.parametrize(
    "a, b",
    [
        ("STOP", "stop"),
        ("¡Más!", "mas"),
        ("What's PRP?", "whats prp"),
        ("  more   details. ", "more details"),
        ("Don't send", "dont send"),
        ("/affirm", "affirm"),
        ("Qué es el PRP", "que es el prp"),
    ],
)
def test_case_accents_punctuation_and_spacing_are_ignored(a, b):
    assert normalise(a) == normalise(b) == b


def test_words_still_differ():
    assert normalise("stop") != normalise("start")
