"""Overlapping slices of a long text, so the red-flag check costs linear time on any length.

Tokenizing and matching a whole 1 MB message at once would hold spaCy's state (and a lock) for
long and build huge intermediate lists; slices of a couple of thousand characters keep both
bounded. Slices overlap by more than any rule phrase spans, so no phrase is cut in two.
"""

from __future__ import annotations

import re
from typing import List, Tuple

WINDOW_CHARS = 2000
# More than the longest phrase a rule can span (about 20 words) plus the negation look-back.
WINDOW_OVERLAP = 400
SPACE = re.compile(r"\s")


def window_bounds(
    text: str, size: int = WINDOW_CHARS, overlap: int = WINDOW_OVERLAP
) -> List[Tuple[int, int]]:
    """(start, end) of overlapping slices covering text, cut at whitespace where possible.

    Each slice is at most `size` long and the next one starts `overlap` characters before it
    ended (moved on to the next word start), so a phrase shorter than about `overlap` characters
    lies whole in at least one slice.
    """
    if len(text) <= size:
        return [(0, len(text))]
    bounds = []
    start = 0
    while True:
        end = min(start + size, len(text))
        if end < len(text):
            # the last whitespace in the final stretch of the slice, if any
            cut = [m.start() for m in SPACE.finditer(text, start + size - overlap // 2, end)]
            end = cut[-1] if cut else end
        bounds.append((start, end))
        if end >= len(text):
            return bounds
        next_start = max(end - overlap, start + 1)
        space = SPACE.search(text, next_start, end)
        start = space.start() + 1 if space else next_start
