"""Whether a red-flag phrase is negated ("no fever") or hypothetical ("what if my legs go numb?").

A negation reaches a few words forward until a clause break ("no fever but my legs are giving
out"); an "if" reaches further ("if I had a cold with fever"). A negation of another verb ("I
don't know what's happening, my legs are numb") does not reach the symptom. Works on the
normal forms of `word_normal`, sentinels included, so it needs no spaCy parse.
"""

from __future__ import annotations

from typing import List, Sequence

from bot.nlu.word_normal import END

NEGATION_CUES = frozenset(
    {"no", "not", "never", "without", "deny", "denies", "denied", "nor", "neither", "none",
     "nunca", "sin", "ni", "tampoco", "jamas", "ningun", "ninguna", "ninguno"}
)  # fmt: skip
# A hypothetical is not a description: "what do I do if my legs go numb?". Also "in case",
# "en caso", and an unaccented "si" not followed by a comma ("sí, tengo fiebre" is a yes).
HYPOTHETICAL_CUES = frozenset({"if", "whether", "incase", "unless"})
# Words that end the reach of a negation: "no fever but my legs are giving out".
CLAUSE_BREAKS = frozenset(
    {"but", "however", "though", "although", "yet", "except", "and", "so", "because", "now",
     "then", "pero", "aunque", "sino", "y", "ahora", "entonces", "porque",
     ".", ";", "!", "?", ":", "(", ")", "-", "--", "..."}
)  # fmt: skip
# A negation followed by one of these negates that word, not the symptom after it:
# "I don't know what's happening, my legs are numb", "no sé qué pasa, ..." (an accented "sé").
NEGATION_CONSUMERS = frozenset(
    {"know", "think", "sure", "understand", "mean", "care", "remember", "believe", "why", "what",
     "how", "sleep", "stop", "wait", "want", "sabe", "saber", "creo", "entiendo", "importa"}
)  # fmt: skip
NEGATION_WINDOW = 4
HYPOTHETICAL_WINDOW = 6  # "if I had a cold with fever": an "if" governs a longer clause


def cues_of(tokens: Sequence[str], lemmas: List[str]) -> List[str]:
    """Per position (sentinels included): "neg", "hyp", "stop" (ends a negation's reach) or "".

    `tokens` are the message's words as typed (no sentinels), `lemmas` their normal forms.
    """
    cues = [""] * len(lemmas)
    for position in range(1, len(lemmas) - 1):
        lemma, raw = lemmas[position], tokens[position - 1].lower()
        following = lemmas[position + 1]
        if lemma in CLAUSE_BREAKS or lemma in NEGATION_CONSUMERS or raw == "sé":
            cues[position] = "stop"
        elif lemma in NEGATION_CUES:
            cues[position] = "neg"
        elif (
            lemma in HYPOTHETICAL_CUES
            or (lemma in ("case", "caso") and lemmas[position - 1] in ("in", "en"))
            or (raw == "si" and following not in (",", END))
        ):
            cues[position] = "hyp"
    return cues


def is_negated(cues: List[str], start: int) -> bool:
    """True when a negation or hypothetical cue governs a phrase starting at `start`."""
    for distance, position in enumerate(range(start - 1, max(0, start - 1 - HYPOTHETICAL_WINDOW), -1)):
        cue = cues[position]
        if cue == "stop":
            return False
        if cue == "hyp" or (cue == "neg" and distance < NEGATION_WINDOW):
            return True
    return False
