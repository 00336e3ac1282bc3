"""The windowed SQL tracker store (bot/tracker_store.py) on SQLite and PostgreSQL: the dialogue sees
the same recent states as with the whole history, every event is stored once and in order, and
the event broker gets each new event once."""

from __future__ import annotations

import asyncio
import json
from typing import List

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from bot import PROJECT_ROOT
from bot.endpoints import tracker_store_config
from bot.tracker_store import RECENT_USER_TURNS, SafeSQLTrackerStore

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))
TURNS = 40


class CollectingBroker(EventBroker):
    """An event broker that keeps what it is given (the interface Rasa's brokers implement)."""

    def __init__(self) -> None:
        self.published: List[dict] = []

    def publish(self, event: dict) -> None:
        self.published.append(event)

    def is_ready(self) -> bool:
        return True


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return request.getfixturevalue("postgres_url")


def turn(index: int) -> List[Event]:
    """One patient turn with the slot and form changes a real conversation makes."""
    intent = {"name": "faq", "confidence": 0.9, "full_retrieval_intent_name": "faq/prp_what"}
    events: List[Event] = [UserUttered(f"question {index}", intent), ActionExecuted("utter_faq")]
    if index == 3:
        events.append(SlotSet("language", "es"))
    if index == 10:
        events += [ActionExecuted("action_faq_followup"), SlotSet("booking_offered", True)]
    if index == TURNS - 8:  # the form opens before the window and is still open at the end
        events += [
            ActionExecuted("booking_form"),
            ActiveLoop("booking_form"),
            SlotSet("requested_slot", "booking_name"),
        ]
    events.append(BotUttered(f"answer {index}"))
    return [*events, ActionExecuted("action_listen")]


def converse(store: SafeSQLTrackerStore, sender: str) -> List[Event]:
    """TURNS messages handled the way Rasa's processor does: retrieve, add events, save."""
    everything: List[Event] = []
    for index in range(TURNS):
        tracker = asyncio.run(store.retrieve(sender))
        if tracker is None:
            tracker = DialogueStateTracker(sender, DOMAIN.slots)
            start = [
                ActionExecuted("action_session_start"),
                SessionStarted(),
                ActionExecuted("action_listen"),
            ]
            for event in start:
                tracker.update(event)
            everything += start
        for event in turn(index):
            tracker.update(event)
            everything.append(event)
        asyncio.run(store.save(tracker))
    return everything


def test_the_recent_window_keeps_what_the_dialogue_needs(database_url):
    broker = CollectingBroker()
    store = SafeSQLTrackerStore(DOMAIN, event_broker=broker, **tracker_store_config(database_url))
    everything = converse(store, "patient-1")

    stored = stored_events(database_url, "patient-1")
    assert stored == [event.as_dict() for event in everything]  # once each, in order
    assert [{k: v for k, v in e.items() if k != "sender_id"} for e in broker.published] == stored

    windowed = asyncio.run(store.retrieve("patient-1"))
    full = DialogueStateTracker.from_events("patient-1", everything, DOMAIN.slots)
    assert sum(isinstance(e, UserUttered) for e in windowed.events) == RECENT_USER_TURNS
    assert windowed.current_slot_values() == full.current_slot_values()
    assert windowed.active_loop_name == "booking_form"
    # The policies look back a few dialogue states at most: the last eight are the same.
    assert windowed.past_states(DOMAIN)[-8:] == full.past_states(DOMAIN)[-8:]
    # Slots set before the window keep the time they were set (the booking's idempotency key).
    last_set = {e.key: e.timestamp for e in full.events if isinstance(e, SlotSet)}
    first_turn = next(i for i, e in enumerate(windowed.events) if isinstance(e, UserUttered))
    before_window = [e for e in list(windowed.events)[:first_turn] if isinstance(e, SlotSet)]
    assert before_window and all(e.timestamp == last_set[e.key] for e in before_window)


def test_a_short_conversation_is_loaded_whole(database_url):
    store = SafeSQLTrackerStore(DOMAIN, **tracker_store_config(database_url))
    tracker = DialogueStateTracker("patient-2", DOMAIN.slots)
    for event in [ActionExecuted("action_listen"), *turn(0), *turn(1)]:
        tracker.update(event)
    asyncio.run(store.save(tracker))
    loaded = asyncio.run(store.retrieve("patient-2"))
    assert [e.as_dict() for e in loaded.events] == [e.as_dict() for e in tracker.events]


def test_a_new_session_starts_a_new_window(database_url):
    store = SafeSQLTrackerStore(DOMAIN, **tracker_store_config(database_url))
    converse(store, "patient-3")
    tracker = asyncio.run(store.retrieve("patient-3"))
    for event in [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        *turn(0),
    ]:
        tracker.update(event)
    asyncio.run(store.save(tracker))
    loaded = asyncio.run(store.retrieve("patient-3"))
    assert sum(isinstance(e, UserUttered) for e in loaded.events) == 1
    assert loaded.get_slot("language") == "en"  # the old session's "es" is not carried over


def stored_events(database_url: str, sender: str) -> List[dict]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT data FROM events WHERE sender_id = :sender ORDER BY id"), {"sender": sender}
            )
            return [json.loads(data) for (data,) in rows]
    finally:
        engine.dispose()


def sqlite_store_with_one_turn(path, sender: str):
    store = SafeSQLTrackerStore(DOMAIN, **tracker_store_config(f"sqlite:///{path}"))
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for event in [ActionExecuted("action_listen"), *turn(0)]:
        tracker.update(event)
    asyncio.run(store.save(tracker))
    return store, tracker


def test_an_sqlite_save_is_not_locked_out_by_a_reader(tmp_path):
    """A reader in the middle of a read (a load, the staff inbox) used to block every save: SQLite's
    default journal needs all readers gone to commit. With WAL the save goes through."""
    import sqlite3

    path = tmp_path / "tracker.db"
    store, tracker = sqlite_store_with_one_turn(path, "patient-4")
    reader = sqlite3.connect(path, timeout=0.1)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM events").fetchone()[0] > 0  # holds its read snapshot
    try:
        for event in turn(1):
            tracker.update(event)
        asyncio.run(store.save(tracker))  # before WAL: "database is locked" after the timeout
    finally:
        reader.rollback()
        reader.close()
    assert stored_events(f"sqlite:///{path}", "patient-4") == [e.as_dict() for e in tracker.events]


def test_the_sqlite_journal_files_are_private(tmp_path):
    store, _ = sqlite_store_with_one_turn(tmp_path / "tracker.db", "patient-5")
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    journal_files = [p for p in tmp_path.iterdir() if p.name.startswith("tracker.db")]
    assert {p.name for p in journal_files} >= {"tracker.db", "tracker.db-wal"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in journal_files)
