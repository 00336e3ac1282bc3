"""Rasa's SQL tracker store, made safe for bad input, cheap per message, and off the event loop.

1. No bad input may stop the server. Rasa 3.6's `SQLTrackerStore.session_scope` turns every
   ValueError raised while a session is open into `print_error_and_exit` (it assumes a missing
   PostgreSQL schema). A UnicodeEncodeError from an unencodable sender id or text is a ValueError
   too, so one crafted request used to stop the whole server. Here such errors stay ordinary
   exceptions: the one request fails (the channel answers with an apology), others go on.

2. The cost of a message does not grow with the conversation. Rasa loads and replays every event
   of the session on each message, and every policy walks all of them again per prediction: on one
   SMS thread, message 200 took four times as long as message 1 (docs/performance.md). No policy
   here looks further back than a few turns (rules: 3 dialogue states, the others: the previous turn), so
   `retrieve` loads only the last RECENT_USER_TURNS turns and, before them, the slot values and
   the open form as they were at that point. Saving writes exactly the events added since the load
   (counted on the tracker, not re-counted in the database), and the event broker gets the same
   events without the second full read Rasa's `stream_events` makes. The full history stays in the
   database (staff inbox, `retrieve_full_tracker`).

3. Database calls run in a worker thread, so a slow disk or database delays one conversation, not
   every conversation the process serves.

Also: an SQLite file is created readable by this user only (it holds health messages), and an
index on (sender_id, type_name, id) serves the queries above.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Dict, Generator, Iterable, List, NamedTuple, Optional, Tuple, Type

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, ensure_schema_exists
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from rasa.shared.utils.common import all_subclasses

from bot.privacy.files import ensure_private_file

logger = logging.getLogger(__name__)

# SQLite waits this long for a lock before failing (pysqlite's default is 5 s). A failed read or
# write falls back to Rasa's in-memory copy; two 5 s waits would overrun the channels' 10 s deadline.
SQLITE_BUSY_TIMEOUT_SECONDS = 2
# Pooled SQLite connections: as many as asyncio's default worker threads on a small machine.
SQLITE_POOL_SIZE = 6
# Turns loaded per message: the longest rule spans 3 dialogue states (under 2 turns); actions that
# look back (MORE's last answer, the count of fallbacks in a row) get a few turns more.
RECENT_USER_TURNS = 5
# The tracker attribute that remembers how many of its events are already in the database.
STORED_EVENTS_ATTRIBUTE = "_clinic_stored_events"
RECENT_EVENTS_INDEX = "ix_events_sender_type_id"


class TrackerStoreFailure(RuntimeError):
    """A tracker store operation failed on bad data or a bad schema (was: an exit)."""


class SafeSQLTrackerStore(SQLTrackerStore):
    """endpoints: `tracker_store: type: bot.tracker_store.SafeSQLTrackerStore` (same keys as SQL)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        dialect, db = kwargs.get("dialect", "sqlite"), kwargs.get("db")
        if dialect == "sqlite" and db:
            ensure_private_file(str(db))
            kwargs["query"] = {"timeout": str(SQLITE_BUSY_TIMEOUT_SECONDS), **(kwargs.get("query") or {})}
        super().__init__(*args, **kwargs)
        if dialect == "sqlite" and db:
            self.engine.dispose()
            self.engine = sqlite_engine(self.engine.url)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        # SQLAlchemy otherwise puts the failed statement's parameters (message texts) in errors.
        self.engine.hide_parameters = True
        self._create_recent_events_index()
        self._queries = WindowQueries(self.SQLEvent.__table__)

    def _create_recent_events_index(self) -> None:
        statement = f"CREATE INDEX IF NOT EXISTS {RECENT_EVENTS_INDEX} ON events (sender_id, type_name, id)"
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.text(statement))
        except sa.exc.DBAPIError as error:  # replicas starting together race to create it
            logger.warning("Could not create the index %s: %s", RECENT_EVENTS_INDEX, type(error).__name__)

    @contextlib.contextmanager
    def session_scope(self) -> Generator[Any, None, None]:
        with _failures_kept_in_the_request():
            session = self.sessionmaker()
            try:
                ensure_schema_exists(session)
                yield session
            finally:
                session.close()

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The latest session's recent turns, with the state they started from."""
        rows = await asyncio.to_thread(self._recent_rows, sender_id)
        if not rows.events or not self.domain:
            return None
        events = [*rows.state_before, *deserialise(rows.events)]
        tracker = DialogueStateTracker.from_events(sender_id, events, self.domain.slots)
        setattr(tracker, STORED_EVENTS_ATTRIBUTE, len(tracker.events))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        stored = getattr(tracker, STORED_EVENTS_ATTRIBUTE, None)
        if stored is None:  # not loaded by `retrieve` (a new conversation): Rasa's own count
            new_events = await asyncio.to_thread(self._save_by_count, tracker)
        else:
            new_events = list(tracker.events)[stored:]
            await asyncio.to_thread(self._insert, tracker.sender_id, new_events)
        setattr(tracker, STORED_EVENTS_ATTRIBUTE, len(tracker.events))
        if self.event_broker is not None:
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    # --- database work, in a worker thread ---------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Generator[Any, None, None]:
        """A connection in one transaction, committed on success (bad data: TrackerStoreFailure).

        The hot path uses SQLAlchemy Core, not the ORM: the ORM's unit of work and query objects
        were most of the Python time these threads took from the event loop under load.
        """
        with _failures_kept_in_the_request(), self.engine.begin() as connection:
            yield connection

    def _recent_rows(self, sender_id: str) -> "RecentRows":
        queries = self._queries
        with self._transaction() as connection:
            session_start = connection.execute(queries.session_start, {"sender": sender_id}).scalar()
            since = {"sender": sender_id, "start": session_start}
            in_session = session_start is not None  # else: the whole conversation is one session
            first_recent_turn = connection.execute(queries.first_recent_turn[in_session], since).scalar()
            state_before: List[Event] = []
            if first_recent_turn is not None:
                state_before = self._state_before(
                    connection.execute(
                        queries.state_before[in_session], {**since, "first": first_recent_turn}
                    )
                )
            # Event ids start at 1: "from 0" is the whole session.
            recent = connection.execute(
                queries.recent[in_session], {**since, "first": first_recent_turn or 0}
            )
            return RecentRows(events=[json.loads(data) for (data,) in recent], state_before=state_before)

    @staticmethod
    def _state_before(earlier: Iterable[Tuple[str, str]]) -> List[Event]:
        """Slot values and the open form as they were, from the slot and form events before."""
        # The latest event per slot, and of the form, keeping its time: actions read it (the booking's
        # idempotency key is the time the summary was shown).
        slots: Dict[str, Dict[str, Any]] = {}
        active_loop: Optional[Dict[str, Any]] = None
        for type_name, data in earlier:
            parameters = json.loads(data)
            if type_name == SlotSet.type_name:
                slots[parameters.get("name")] = parameters
            else:
                active_loop = parameters
        state: List[Event] = [
            SlotSet(name, slot.get("value"), timestamp=slot.get("timestamp"))
            for name, slot in slots.items()
            if name
        ]
        if active_loop and active_loop.get("name"):
            state.append(ActiveLoop(active_loop["name"], timestamp=active_loop.get("timestamp")))
        # The first recent turn, like every turn, follows the bot's listening.
        return [*state, ActionExecuted(ACTION_LISTEN_NAME)]

    def _insert(self, sender_id: str, events: Iterable[Event]) -> None:
        rows = []
        for event in events:
            data = event.as_dict()
            rows.append(
                {
                    "sender_id": sender_id,
                    "type_name": event.type_name,
                    "timestamp": data.get("timestamp"),
                    "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    "action_name": data.get("name"),
                    "data": json.dumps(data),
                }
            )
        if rows:
            with self._transaction() as connection:
                connection.execute(self._queries.insert, rows)

    def _save_by_count(self, tracker: DialogueStateTracker) -> List[Event]:
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
        self._insert(tracker.sender_id, new_events)
        return new_events


@contextlib.contextmanager
def _failures_kept_in_the_request() -> Generator[None, None, None]:
    """A ValueError (bad data, a missing schema) as TrackerStoreFailure, never Rasa's exit (1. above)."""
    try:
        yield
    except ValueError as error:
        raise TrackerStoreFailure(f"tracker store operation failed: {type(error).__name__}") from error


def sqlite_engine(url: Any) -> sa.engine.Engine:
    """An engine for the SQLite file `make run` keeps conversations in, tuned for many at once.

    - WAL journal: readers and the one writer no longer lock each other out. In SQLite's default
      journal a save blocked every load, and the waiting connections slept in SQLite's busy
      back-off, which capped throughput at 20 concurrent users (docs/performance.md).
    - synchronous=NORMAL: with WAL, a commit is durable when the process crashes; only a power loss
      or OS crash may lose the last commits (decisions.md). The bookings database is not affected.
    - Pooled connections (SQLAlchemy 1.4 opens a new one per session for an SQLite file); a pooled
      connection is used by one worker thread at a time, hence check_same_thread off.
    """
    engine = sa.create_engine(
        url,
        poolclass=sa.pool.QueuePool,
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=SQLITE_POOL_SIZE,
        connect_args={"check_same_thread": False},
    )

    @sa.event.listens_for(engine, "connect")
    def use_wal(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    return engine


class WindowQueries:
    """The statements of the hot path, built once with bound parameters.

    Building SQLAlchemy statements per call (operators, coercions) cost more Python time than
    running them. Each query that is limited to the latest session comes in two forms, indexed by
    `in_session`: False where the conversation has no session start (the whole of it counts).
    """

    def __init__(self, events: sa.Table) -> None:
        sender = events.c.sender_id == sa.bindparam("sender")

        def since(in_session: bool) -> list:
            return [sender, events.c.timestamp >= sa.bindparam("start")] if in_session else [sender]

        self.session_start = sa.select(sa.func.max(events.c.timestamp)).where(
            sender, events.c.type_name == SessionStarted.type_name
        )
        self.first_recent_turn = {
            in_session: sa.select(events.c.id)
            .where(*since(in_session), events.c.type_name == UserUttered.type_name)
            .order_by(events.c.id.desc())
            .offset(RECENT_USER_TURNS - 1)
            .limit(1)
            for in_session in (False, True)
        }
        self.state_before = {
            in_session: sa.select(events.c.type_name, events.c.data)
            .where(*since(in_session), events.c.id < sa.bindparam("first"))
            .where(events.c.type_name.in_([SlotSet.type_name, ActiveLoop.type_name]))
            .order_by(events.c.id)
            for in_session in (False, True)
        }
        self.recent = {
            in_session: sa.select(events.c.data)
            .where(*since(in_session), events.c.id >= sa.bindparam("first"))
            .order_by(events.c.id)
            for in_session in (False, True)
        }
        # Executed with a list of rows: the database driver's executemany, rows in the given order.
        self.insert = events.insert()


class RecentRows(NamedTuple):
    events: List[Dict[str, Any]]  # the recent turns, serialised
    state_before: List[Event]  # slots and form as they were before them


def _event_classes() -> Dict[str, Type[Event]]:
    classes: Dict[str, Type[Event]] = {}
    for cls in all_subclasses(Event):
        classes.setdefault(cls.type_name, cls)
    return classes


_EVENT_CLASSES: Dict[str, Type[Event]] = {}


def deserialise(serialised: Iterable[Dict[str, Any]]) -> List[Event]:
    """`rasa.shared.core.events.deserialise_events`, with the event classes looked up once: Rasa
    walks every subclass of Event again for each event, most of the cost of a load."""
    if not _EVENT_CLASSES:
        _EVENT_CLASSES.update(_event_classes())
    events = []
    for parameters in serialised:
        cls = _EVENT_CLASSES.get(parameters.get("event"))
        event = cls._from_parameters(parameters) if cls else Event.from_parameters(parameters)
        if event is not None:
            events.append(event)
    return events
