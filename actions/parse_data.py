"""Reading Rasa's NLU results (the latest message's parse data) in one place."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

FAQ = "faq"


def faq_topic(parse_data: Dict[str, Any]) -> Optional[str]:
    """The FAQ topic the response selector chose ('prp_what'), or None."""
    response = (parse_data.get("response_selector") or {}).get(FAQ, {}).get("response") or {}
    key = response.get("intent_response_key") or ""
    return key.split("/", 1)[1] if key.startswith(f"{FAQ}/") else None


def ranked_candidates(parse_data: Dict[str, Any]) -> List[Tuple[str, float]]:
    """Intents and FAQ topics, best first: [('faq/prp_what', 0.41), ('book_appointment', 0.2), ...].

    The intent `faq` is replaced by its topics, each scaled by the intent's own confidence, so
    "faq, then which topic" becomes one list of things the patient may have meant.
    """
    candidates: List[Tuple[str, float]] = []
    topics = (parse_data.get("response_selector") or {}).get(FAQ, {}).get("ranking") or []
    for entry in parse_data.get("intent_ranking") or []:
        name, confidence = entry.get("name"), float(entry.get("confidence") or 0.0)
        if name in (None, "nlu_fallback"):
            continue
        if name == FAQ:
            candidates.extend(
                (
                    topic["intent_response_key"],
                    confidence * float(topic.get("confidence") or 0.0),
                )
                for topic in topics
                if topic.get("intent_response_key")
            )
        else:
            candidates.append((name, confidence))
    return sorted(candidates, key=lambda item: item[1], reverse=True)
