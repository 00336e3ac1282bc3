"""Which FAQ topics to offer when the bot is unsure ("did you mean"), so no plausible question ends
in "I didn't get that".

Two opinions:
- the classifier's topic probabilities (bot/nlu/one_decision.py, calibrated over all labels, so
  gibberish goes to out_of_scope rather than to a topic);
- the nearest training examples (bot/faq_neighbours.py): a real question shares word pieces with
  some of them, gibberish with none.
A topic is offered when either finds it plausible; the classifier's plausible topics first, then by
the sum of both scores, three at most. (With the old ResponseSelector, which ranked some topic high
even for gibberish, its opinion counted only if the neighbours agreed something was plausible.)
"""

from __future__ import annotations

from typing import Any, Dict, List

from actions.parse_data import FAQ
from bot.faq_neighbours import plausible_topics

MAX_TOPICS = 3
# The classifier's topic probability that still counts as an opinion (measured: docs/performance.md).
MIN_SELECTOR_CONFIDENCE = 0.2


def selector_ranking(parse_data: Dict[str, Any]) -> Dict[str, float]:
    ranking = (parse_data.get("response_selector") or {}).get(FAQ, {}).get("ranking") or []
    return {
        entry["intent_response_key"].split("/", 1)[1]: float(entry.get("confidence") or 0.0)
        for entry in ranking
        if str(entry.get("intent_response_key", "")).startswith(f"{FAQ}/")
    }


def topics_to_offer(parse_data: Dict[str, Any]) -> List[str]:
    """Up to three topic names, best first; [] when no topic is plausible."""
    text = parse_data.get("text") or ""
    neighbours = dict(plausible_topics(text, limit=MAX_TOPICS)) if text.strip() else {}
    selector = selector_ranking(parse_data)
    candidates = set(neighbours) | {
        topic for topic, score in selector.items() if score >= MIN_SELECTOR_CONFIDENCE
    }
    # Topics the selector is fairly sure of come first; then by the mean of both opinions.
    rank = {
        topic: (
            selector.get(topic, 0.0) >= MIN_SELECTOR_CONFIDENCE,
            neighbours.get(topic, 0.0) + selector.get(topic, 0.0),
        )
        for topic in candidates
    }
    return sorted(rank, key=lambda topic: rank[topic], reverse=True)[:MAX_TOPICS]
