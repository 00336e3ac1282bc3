"""The review inbox: patient messages the bot handled badly, read from Rasa's SQL tracker store.

A message is listed when
- NLU was unsure: the intent or the chosen FAQ answer below CONFIDENT, or the fallback intent;
- the bot asked "did you mean" and the patient picked "Something else";
- the patient's next message was negative feedback ("that didn't help", or the widget's
  "Not helpful" button).
Answers to the booking form's questions are personal data, not questions: they are never read
out. Identical messages (after normalising case, spaces and punctuation) are grouped with a
count, newest first, each with the bot's guess and its confidence, and scrubbed of personal data.
Each item carries the message's language (en/es), guessed from its scrubbed text with
bot/language.py: the same guess that decides whether a label goes to data/nlu.yml or
data/nlu_es.yml, so what the inbox shows is where the example lands. The inbox can be limited to one
language.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict, Iterable, Iterator, List, Optional, Set

from sqlalchemy import create_engine, text

from bot.language import ENGLISH, LANGUAGES, best_guess
from bot.staff.scrub import scrub
from bot.text_normal import normalise

CONFIDENT = 0.6
CLARIFY_ACTION = "action_clarify"
FEEDBACK_INTENT = "feedback_negative"  # typed, or the widget's "Not helpful" button
SOMETHING_ELSE_PAYLOAD = "/deny"
NEGATIVE_FEEDBACK = re.compile(
    r"\b(that|this|it)\s*(did ?n[o']?t|does ?n[o']?t|was ?n[o']?t|is ?n[o']?t)\s*(help|answer|what i)"
    r"|\bnot (helpful|what i (asked|meant))|\bwrong answer\b|\buseless\b|\byou (did ?n[o']?t|don'?t) understand"
    r"|^\s*(no|nope)[,.!]?\s*(that'?s )?(not|wrong)",
    re.IGNORECASE,
)
REASON_LOW_CONFIDENCE = "unsure"
REASON_FALLBACK = "not understood"
REASON_SOMETHING_ELSE = "patient said: something else"
REASON_NEGATIVE = "patient said it didn't help"


@dataclass
class ReviewItem:
    text: str  # scrubbed
    key: str  # normalised text: what groups messages and what a label refers to
    count: int
    last_seen: datetime
    guess: str  # "faq/prp_what", "out_of_scope", ...
    confidence: float
    reasons: Set[str] = field(default_factory=set)
    language: str = ENGLISH  # "en" or "es", from the text (bot.language.best_guess)


def bot_guess(parse_data: dict) -> tuple[str, float]:
    """The intent (or faq/topic) NLU chose and its confidence (the lower of intent and answer)."""
    intent = parse_data.get("intent") or {}
    name, confidence = intent.get("name") or "", float(intent.get("confidence") or 0.0)
    if name == "nlu_fallback":
        ranking = [
            entry for entry in parse_data.get("intent_ranking") or [] if entry.get("name") != "nlu_fallback"
        ]
        if ranking:
            name, confidence = ranking[0]["name"], float(ranking[0].get("confidence") or 0.0)
    if name == "faq":
        answer = ((parse_data.get("response_selector") or {}).get("faq") or {}).get("response") or {}
        topic = answer.get("intent_response_key")
        if topic:
            return topic, min(confidence, float(answer.get("confidence") or 0.0))
    return name, confidence


@dataclass
class _Turn:
    text: str
    timestamp: float
    parse_data: dict
    reasons: Set[str]


def _conversation_turns(events: Iterable[dict]) -> Iterator[_Turn]:
    """Patient questions of one conversation with the reasons to review them."""
    requested_slot: Optional[str] = None
    previous: Optional[_Turn] = None
    clarify_pending = False
    for event in events:
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "requested_slot":
            requested_slot = event.get("value")
        elif kind == "active_loop" and not event.get("name"):
            requested_slot = None
        elif kind == "action" and event.get("name") == CLARIFY_ACTION and previous:
            clarify_pending = True
        elif kind == "user":
            message = event.get("text") or ""
            if clarify_pending and previous and message.strip() == SOMETHING_ELSE_PAYLOAD:
                previous.reasons.add(REASON_SOMETHING_ELSE)
            if previous and _is_negative_feedback(event, message):
                previous.reasons.add(REASON_NEGATIVE)
            clarify_pending = False
            if requested_slot or not message.strip() or message.startswith("/"):
                continue  # a form answer (personal data) or a button payload, not a question
            if previous:
                yield previous
            parse_data = event.get("parse_data") or {}
            previous = _Turn(
                message, float(event.get("timestamp") or 0), parse_data, _reasons(parse_data, message)
            )
    if previous:
        yield previous


def _is_negative_feedback(event: dict, message: str) -> bool:
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    return intent == FEEDBACK_INTENT or bool(NEGATIVE_FEEDBACK.search(message))


def _reasons(parse_data: dict, message: str) -> Set[str]:
    if (parse_data.get("intent") or {}).get("name") == FEEDBACK_INTENT or NEGATIVE_FEEDBACK.search(message):
        return set()  # feedback is about the previous answer, not a question of its own
    reasons = set()
    if (parse_data.get("intent") or {}).get("name") == "nlu_fallback":
        reasons.add(REASON_FALLBACK)
    if bot_guess(parse_data)[1] < CONFIDENT:
        reasons.add(REASON_LOW_CONFIDENCE)
    return reasons


def read_conversations(tracker_store_url: str, since: Optional[datetime] = None) -> Dict[str, List[dict]]:
    """Events per conversation from Rasa's `events` table (SQLite or PostgreSQL)."""
    engine = create_engine(tracker_store_url, future=True, hide_parameters=True)
    query = "SELECT sender_id, data FROM events"
    params = {}
    if since:
        query += " WHERE timestamp >= :since"
        params["since"] = since.timestamp()
    conversations: Dict[str, List[dict]] = {}
    try:
        with engine.connect() as connection:
            for sender_id, data in connection.execute(text(query + " ORDER BY id"), params):
                conversations.setdefault(sender_id, []).append(json.loads(data))
    finally:
        engine.dispose()
    return conversations


def review_items(
    conversations: Dict[str, List[dict]],
    hidden_keys: Iterable[str] = (),
    limit: Optional[int] = None,
    language: Optional[str] = None,
) -> List[ReviewItem]:
    """The messages to review, grouped, newest first.

    Args:
        hidden_keys: normalised texts already labelled or ignored.
        limit: at most this many items (after the language filter).
        language: "en" or "es" for one language only; None or "" for both.
    """
    if language and language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    hidden = set(hidden_keys)
    grouped: Dict[str, ReviewItem] = {}
    for events in conversations.values():
        for turn in _conversation_turns(events):
            key = normalise(scrub(turn.text))
            if not turn.reasons or not key or key in hidden:
                continue
            seen = datetime.fromtimestamp(turn.timestamp, timezone.utc)
            guess, confidence = bot_guess(turn.parse_data)
            item = grouped.get(key)
            if item is None:
                text = scrub(turn.text)
                grouped[key] = ReviewItem(
                    text, key, 1, seen, guess, confidence, set(turn.reasons), best_guess(text)
                )
                continue
            item.count += 1
            item.reasons |= turn.reasons
            if seen >= item.last_seen:
                item.last_seen, item.guess, item.confidence = seen, guess, confidence
    items = sorted(grouped.values(), key=lambda item: item.last_seen, reverse=True)
    if language:
        items = [item for item in items if item.language == language]
    return items[:limit] if limit else items
