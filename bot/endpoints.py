"""Rasa's endpoints (tracker store, lock store, model server) from the runtime settings.

endpoints.yml keeps what never changes between a laptop and a cluster (the action server's
address and token, the event broker). What does change is chosen here from environment
variables (README, "Production"), so one image runs single-process on SQLite or as one replica
of many on PostgreSQL and Redis, without a second endpoints file to keep in step.

A database URL is split into Rasa's separate keys here: Rasa's SQL store silently ignores port,
database and user when `url` holds "://" (rasa#8266).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from rasa.core.utils import AvailableEndpoints
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import make_url

from bot import PROJECT_ROOT
from bot.settings import RuntimeSettings

TRACKER_STORE_TYPE = "bot.tracker_store.SafeSQLTrackerStore"
# Rasa's Redis lock store accepts only letters and digits in the prefix.
LOCK_KEY_PREFIX = "clinic"


def tracker_store_config(database_url: str) -> Dict[str, Any]:
    """SafeSQLTrackerStore's keyword arguments for an SQLAlchemy URL."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return {"dialect": "sqlite", "db": url.database}
    return {
        "dialect": url.drivername,
        "host": url.host,
        "port": url.port,
        "db": url.database,
        "username": url.username,
        "password": url.password,
        "query": dict(url.query) or None,
    }


def lock_store_config(redis_url: str) -> Dict[str, Any]:
    """RedisLockStore's keyword arguments for redis://[:password@]host[:port][/db] (rediss: TLS)."""
    url = make_url(redis_url.replace("rediss://", "redis+tls://", 1))
    return {
        "url": url.host or "localhost",
        "port": url.port or 6379,
        "db": int(url.database or 0),
        "password": url.password,
        "use_ssl": url.drivername.endswith("+tls"),
        "key_prefix": LOCK_KEY_PREFIX,
    }


def available_endpoints(settings: RuntimeSettings) -> AvailableEndpoints:
    endpoints = AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "endpoints.yml"))
    store = _present(tracker_store_config(settings.conversations_url))
    # Rasa hands a custom store its `url` as `host`.
    endpoints.tracker_store = EndpointConfig(url=store.pop("host", None), type=TRACKER_STORE_TYPE, **store)
    if settings.lock_store_url:
        config = lock_store_config(settings.lock_store_url)
        endpoints.lock_store = EndpointConfig(url=config.pop("url"), type="redis", **_present(config))
    if settings.model_server_url:
        endpoints.model = EndpointConfig(
            url=settings.model_server_url, wait_time_between_pulls=settings.model_pull_seconds
        )
    return endpoints


def _present(values: Dict[str, Optional[Any]]) -> Dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
