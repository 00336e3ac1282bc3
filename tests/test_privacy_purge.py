"""Retention purge on real databases: conversations written by Rasa's own SQLTrackerStore (SQLite
file and PostgreSQL), texting message ids, staff sessions and failed logins in the clinic
database; the CLI prints counts only; the daily job runs off the event loop and logs counts."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from bot.__main__ import main
from bot.channels.texting_state import TextingState, handled_messages, opt_outs
from bot.database import create_database_engine
from bot.privacy.purge import PurgeReport, default_retention, parse_duration, purge
from bot.privacy.schedule import start_daily_purge
from bot.staff.accounts import StaffAuth, login_failures, sessions

NOW = datetime.now(timezone.utc)
DAY = 86400.0


def rasa_tracker_store(url_or_path):
    """Rasa's SQLTrackerStore on a SQLite file, or on a PostgreSQL database URL."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from sqlalchemy.engine import make_url

    if str(url_or_path).startswith("postgresql"):
        url = make_url(url_or_path)
        return SQLTrackerStore(
            Domain.empty(),
            dialect="postgresql",
            host=url.host,
            port=url.port,
            db=url.database,
            username=url.username,
        )
    return SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(url_or_path))


def save_conversation(store, sender_id: str, ages_in_days) -> int:
    """A conversation whose turns happened `ages_in_days` ago; returns its number of events."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker(sender_id, slots=[])
    first = NOW.timestamp() - ages_in_days[0] * DAY
    tracker.update(ActionExecuted("action_session_start", timestamp=first))
    tracker.update(SessionStarted(timestamp=first))
    for age in ages_in_days:
        at = NOW.timestamp() - age * DAY
        tracker.update(UserUttered("my phone is 305 555 0123", {"name": "greet"}, timestamp=at))
        tracker.update(BotUttered("Thanks", timestamp=at + 1))
        tracker.update(ActionExecuted("action_listen", timestamp=at + 2))
    asyncio.run(store.save(tracker))
    return len(tracker.events)


def events_by_sender(engine) -> dict:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id"))
        return dict(rows.all())


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker(request, tmp_path):
    """(where Rasa's store is, an engine on the same database, events per conversation)."""
    if request.param == "sqlite":
        target = tmp_path / "tracker.db"
        url = f"sqlite:///{target}"
    else:
        target = url = request.getfixturevalue("postgres_url")
    store = rasa_tracker_store(target)
    counts = {
        "idle": save_conversation(store, "idle", [45, 40]),  # last turn 40 days ago: goes
        "live": save_conversation(store, "live", [60, 0.01]),  # started long ago, still going: stays whole
        "recent": save_conversation(store, "recent", [2]),
    }
    store.engine.dispose()
    engine = create_database_engine(url)
    yield target, engine, counts
    engine.dispose()


def test_idle_conversations_go_whole_and_live_ones_stay_whole(tracker):
    target, engine, counts = tracker
    report = purge(timedelta(days=30), tracker=engine)
    assert (report.conversations, report.conversation_events) == (1, counts["idle"])
    assert events_by_sender(engine) == {"live": counts["live"], "recent": counts["recent"]}
    assert purge(timedelta(days=30), tracker=engine) == PurgeReport()  # nothing more
    # Rasa still reads the live conversation, first turn included.
    store = rasa_tracker_store(target)
    try:
        live = asyncio.run(store.retrieve_full_tracker("live"))
    finally:
        store.engine.dispose()
    assert len(live.events) == counts["live"]


@pytest.fixture
def clinic(tmp_path):
    engine = create_database_engine(f"sqlite:///{tmp_path / 'clinic.db'}")
    texting, _ = TextingState(engine), StaffAuth(engine, {})
    old, recent = NOW - timedelta(days=40), NOW - timedelta(hours=2)
    with engine.begin() as connection:
        connection.execute(
            handled_messages.insert(),
            [{"message_sid": "SM-old", "handled_at": old}, {"message_sid": "SM-new", "handled_at": recent}],
        )
        connection.execute(opt_outs.insert().values(conversation_id="c-1", opted_out_at=old))
        connection.execute(
            sessions.insert(),
            [
                {
                    "token_hash": "a" * 64,
                    "username": "dana",
                    "csrf_token": "x",
                    "expires_at": NOW - timedelta(hours=1),
                },
                {
                    "token_hash": "b" * 64,
                    "username": "luis",
                    "csrf_token": "y",
                    "expires_at": NOW + timedelta(hours=1),
                },
            ],
        )
        connection.execute(
            login_failures.insert(), [{"client": "10.0.0.9", "at": old}, {"client": "10.0.0.8", "at": recent}]
        )
    assert texting.is_opted_out("c-1")
    yield engine
    engine.dispose()


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar()


def test_old_records_in_the_clinic_database_are_purged(clinic):
    report = purge(timedelta(days=30), clinic=clinic)
    assert (report.texting_message_ids, report.expired_staff_sessions, report.staff_login_failures) == (
        1,
        1,
        1,
    )
    assert (
        count(clinic, handled_messages) == 1
        and count(clinic, sessions) == 1
        and count(clinic, login_failures) == 1
    )
    assert count(clinic, opt_outs) == 1  # an opt-out holds until START, however old


def test_a_database_without_those_tables_is_fine(tmp_path):
    engine = create_database_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert purge(timedelta(days=1), tracker=engine, clinic=engine) == PurgeReport()
    finally:
        engine.dispose()


@pytest.fixture
def deployment(tmp_path, monkeypatch, clinic):
    """Environment of a deployment: SQLite tracker (TRACKER_DB) and clinic database."""
    tracker_db = tmp_path / "tracker.db"
    store = rasa_tracker_store(tracker_db)
    save_conversation(store, "patient-idle-7f3a", [50])
    save_conversation(store, "patient-live-9c1d", [1])
    store.engine.dispose()
    monkeypatch.setenv("TRACKER_DB", str(tracker_db))
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", str(clinic.url))
    monkeypatch.setenv("RASA_API_SECRET", "not-used-here")
    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    return tracker_db


def test_the_cli_purges_and_prints_counts_only(deployment, capsys):
    assert main(["privacy", "purge", "--older-than", "30d"]) == 0
    out = capsys.readouterr().out
    assert "1 conversation(s) (" in out and "1 texting message id(s)" in out and "30 days" in out
    assert "patient-" not in out and "SM-" not in out and "dana" not in out
    engine = create_database_engine(f"sqlite:///{deployment}")
    try:
        assert set(events_by_sender(engine)) == {"patient-live-9c1d"}
    finally:
        engine.dispose()


def test_the_cli_retention_comes_from_retention_days(deployment, capsys, monkeypatch):
    monkeypatch.setenv("RETENTION_DAYS", "60")
    assert main(["privacy", "purge"]) == 0
    assert "0 conversation(s)" in capsys.readouterr().out  # the idle one is 50 days old


def test_the_daily_job_purges_off_the_event_loop_and_logs_counts(deployment, caplog):
    caplog.set_level(logging.INFO, logger="bot.privacy.schedule")

    async def run_briefly() -> float:
        loop = asyncio.get_running_loop()
        task = start_daily_purge(loop, older_than=timedelta(days=30), first_delay_seconds=0)
        # The loop keeps ticking while the purge runs in a thread.
        ticks, deadline = 0, time.monotonic() + 10
        while "Privacy purge removed" not in caplog.text and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            ticks += 1
        task.cancel()
        return ticks

    assert asyncio.run(run_briefly()) > 0
    assert "Privacy purge removed 1 conversation(s)" in caplog.text
    assert "patient-" not in caplog.text


@pytest.mark.parametrize(
    "value, expected",
    [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("90m", timedelta(minutes=90))],
)
def test_durations(value, expected):
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", ["", "30", "0d", "-3d", "3w", "d"])
def test_bad_durations_are_refused(value):
    with pytest.raises(ValueError):
        parse_duration(value)


def test_default_retention():
    assert default_retention({}) == timedelta(days=30)
    assert default_retention({"RETENTION_DAYS": "7"}) == timedelta(days=7)
    with pytest.raises(ValueError):
        default_retention({"RETENTION_DAYS": "0"})


def test_the_daily_purge_runs_inside_a_real_sanic_server_and_stops_with_it(deployment, caplog, monkeypatch):
    from sanic import Sanic, response

    from bot.privacy.schedule import register_daily_purge
    from tests.sanic_server import http, serving

    caplog.set_level(logging.INFO, logger="bot.privacy.schedule")
    monkeypatch.setattr(Sanic, "test_mode", True)  # several Sanic apps in one test process
    app = Sanic(f"purge_wiring_{uuid.uuid4().hex[:8]}")
    app.add_route(lambda request: response.text("ok"), "/ping")
    register_daily_purge(app, older_than=timedelta(days=30), first_delay_seconds=0)
    with serving(app) as url:
        deadline = time.monotonic() + 10
        while "Privacy purge removed" not in caplog.text and time.monotonic() < deadline:
            assert http(url + "/ping")[0] == 200  # the server answers while it purges
            time.sleep(0.02)
        task = app.ctx.privacy_purge_task
    assert "Privacy purge removed 1 conversation(s)" in caplog.text
    assert task.cancelled() or task.done()
