"""Rasa's endpoints from the settings (bot/endpoints.py): SQLite alone, or PostgreSQL + Redis + a
model server for replicas."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.endpoints import available_endpoints, lock_store_config, tracker_store_config
from bot.settings import load_runtime_settings


def test_a_postgresql_url_is_split_into_the_keys_rasa_reads():
    config = tracker_store_config("postgresql+psycopg2://clinic:s3cret@db.internal:6432/conversations")
    assert config == {
        "dialect": "postgresql+psycopg2",
        "host": "db.internal",
        "port": 6432,
        "db": "conversations",
        "username": "clinic",
        "password": "s3cret",
        "query": None,
    }


def test_sqlite_keeps_its_file():
    assert tracker_store_config("sqlite:////srv/var/tracker.db") == {
        "dialect": "sqlite",
        "db": "/srv/var/tracker.db",
    }


def test_a_redis_url_becomes_the_lock_store_keys():
    assert lock_store_config("redis://:pw@cache:6380/2") == {
        "url": "cache",
        "port": 6380,
        "db": 2,
        "password": "pw",
        "use_ssl": False,
        "key_prefix": "clinic",
    }
    assert lock_store_config("rediss://cache")["use_ssl"] is True


def expanded(settings, monkeypatch):
    """The variables endpoints.yml expands, as bot.server sets them before reading it."""
    for name, value in settings.rasa_environment().items():
        monkeypatch.setenv(name, value)
    return settings


def test_the_default_is_one_process_on_sqlite(monkeypatch):
    settings = expanded(replace(load_runtime_settings({}), tracker_db=Path("/tmp/x/tracker.db")), monkeypatch)
    endpoints = available_endpoints(settings)
    assert endpoints.tracker_store.type == "bot.tracker_store.SafeSQLTrackerStore"
    assert endpoints.tracker_store.kwargs == {"dialect": "sqlite", "db": "/tmp/x/tracker.db"}
    assert endpoints.lock_store is None and endpoints.model is None


def test_replicas_share_postgresql_redis_and_the_model_server(monkeypatch):
    settings = load_runtime_settings(
        {
            "TRACKER_STORE_URL": "postgresql://rasa@127.0.0.1:5432/rasa",
            "LOCK_STORE_URL": "redis://127.0.0.1:6379/0",
            "MODEL_SERVER_URL": "http://models.internal/models/facet-assistant.tar.gz",
            "MODEL_PULL_SECONDS": "5",
        }
    )
    endpoints = available_endpoints(expanded(settings, monkeypatch))
    assert endpoints.tracker_store.kwargs["dialect"] == "postgresql"
    assert (endpoints.lock_store.type, endpoints.lock_store.url) == ("redis", "127.0.0.1")
    assert endpoints.model.url.endswith("/facet-assistant.tar.gz")
    assert endpoints.model.kwargs["wait_time_between_pulls"] == 5


def test_rasa_builds_the_configured_stores(monkeypatch, tmp_path, postgres_url):
    """Through Rasa's own factories, as the server does at start."""
    from rasa.core.lock_store import LockStore, RedisLockStore
    from rasa.core.tracker_store import create_tracker_store
    from rasa.shared.core.domain import Domain

    from bot.tracker_store import SafeSQLTrackerStore

    settings = load_runtime_settings(
        {"TRACKER_STORE_URL": postgres_url, "LOCK_STORE_URL": "redis://127.0.0.1:6379/0"}
    )
    endpoints = available_endpoints(expanded(settings, monkeypatch))
    store = create_tracker_store(endpoints.tracker_store, Domain.empty())
    assert isinstance(store, SafeSQLTrackerStore)
    assert store.engine.url.database == postgres_url.rsplit("/", 1)[1]
    assert isinstance(LockStore.create(endpoints.lock_store), RedisLockStore)
