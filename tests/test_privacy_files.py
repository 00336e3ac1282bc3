"""The clinic database file (contact details) is owner-only: created 0600 before SQLAlchemy opens
it, whatever the umask, and an existing world-readable one is tightened."""

from __future__ import annotations

import os
import stat

import pytest

from bot.bookings.store import BookingStore
from bot.database import create_database_engine
from bot.privacy.files import ensure_private_dir, ensure_private_file


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def permissive_umask():
    """umask 0: without the fix, files come out world-writable, not just readable."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_the_clinic_database_is_created_owner_only(tmp_path, permissive_umask):
    path = tmp_path / "var" / "clinic.db"
    store = BookingStore.from_url(f"sqlite:///{path}")
    try:
        assert mode(path) == 0o600
        assert store.list() == []  # a working database in that file
    finally:
        store._engine.dispose()


def test_an_existing_readable_database_is_made_private(tmp_path):
    path = tmp_path / "clinic.db"
    path.touch()
    os.chmod(path, 0o644)
    journal = tmp_path / "clinic.db-journal"
    journal.touch()
    os.chmod(journal, 0o644)
    engine = create_database_engine(f"sqlite:///{path}")
    engine.dispose()
    assert mode(path) == 0o600 and mode(journal) == 0o600


def test_the_file_is_private_before_the_engine_connects(tmp_path, permissive_umask):
    path = tmp_path / "fresh.db"
    engine = create_database_engine(f"sqlite:///{path}")  # SQLAlchemy connects lazily
    try:
        assert path.exists() and mode(path) == 0o600
    finally:
        engine.dispose()


def test_in_memory_and_server_databases_create_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    create_database_engine("sqlite://").dispose()
    create_database_engine("sqlite:///:memory:").dispose()
    create_database_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none").dispose()
    assert list(tmp_path.iterdir()) == []


def test_helpers_for_other_files(tmp_path, permissive_umask):
    tracker = ensure_private_file(tmp_path / "deep" / "tracker.db")
    assert mode(tracker) == 0o600 and tracker.read_bytes() == b""  # empty: a valid new SQLite file
    tracker.write_bytes(b"kept")
    ensure_private_file(tracker)
    assert tracker.read_bytes() == b"kept"  # an existing file is never truncated
    folder = ensure_private_dir(tmp_path / "spool")
    assert mode(folder) == 0o700
