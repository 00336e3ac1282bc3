"""The one way the project compares short texts: keywords (STOP, MORE), option titles, booking
answers, the staff inbox's grouping and its check against training and test data.

Case, accents, punctuation and spacing are ignored: "¡Más!" == "mas", "What's PRP?" == "whats prp".
"""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD_OR_SPACE = re.compile(r"[^\w\s]")


def normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    without_accents = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD_OR_SPACE.sub("", without_accents).split())
