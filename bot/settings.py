"""Runtime settings from environment variables, in one place (documented in README, "Settings")."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bot import PROJECT_ROOT

# credentials.yml names these; Rasa refuses an unset ${VAR}, and "" turns a channel off.
OPTIONAL_CHANNEL_VARIABLES = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_SMS_NUMBER",
    "TWILIO_WHATSAPP_NUMBER",
    "PUBLIC_BASE_URL",
)


@dataclass(frozen=True)
class RuntimeSettings:
    bot_host: str
    bot_port: int
    action_host: str
    action_port: int
    action_server_token: str
    # Signs the staff tools' JWTs for Rasa's HTTP API (model swap without restart).
    api_secret: str
    model_path: Path
    tracker_db: Path
    cors_origins: tuple[str, ...]
    log_level: str
    # Production topology (README, "Production"); the defaults are the single-process `make run`.
    # An SQLAlchemy URL of a shared tracker store (postgresql://user:pass@host:5432/db); "" keeps
    # conversations in the SQLite file tracker_db.
    tracker_store_url: str = ""
    # redis://host:6379/0: conversation locks shared by replicas; "" keeps them in memory.
    lock_store_url: str = ""
    # Where every replica pulls the published model from (Rasa's model server protocol, ETag);
    # "" loads model_path once at start.
    model_server_url: str = ""
    model_pull_seconds: int = 10
    # Overrides the action server address derived from action_host/action_port (containers).
    action_server_url: str = ""
    # Bearer token for GET /metrics; "" turns the route off.
    metrics_token: str = ""

    @property
    def conversations_url(self) -> str:
        """SQLAlchemy URL of the conversations (staff inbox, retention purge)."""
        return self.tracker_store_url or f"sqlite:///{self.tracker_db}"

    def rasa_environment(self) -> dict[str, str]:
        """What the child processes read: the variables endpoints.yml and credentials.yml expand
        (one ${VAR} per value) and the settings made here (a cluster's shared stores)."""
        return {
            **{name: os.environ.get(name, "") for name in OPTIONAL_CHANNEL_VARIABLES},
            "ACTION_SERVER_URL": self.action_server_url
            or f"http://{self.action_host}:{self.action_port}/webhook",
            "ACTION_HOST": self.action_host,
            "ACTION_PORT": str(self.action_port),
            "ACTION_SERVER_TOKEN": self.action_server_token,
            "TRACKER_DB": str(self.tracker_db),
            "TRACKER_STORE_URL": self.tracker_store_url,
            "LOCK_STORE_URL": self.lock_store_url,
            "MODEL_SERVER_URL": self.model_server_url,
            "MODEL_PULL_SECONDS": str(self.model_pull_seconds),
            "METRICS_TOKEN": self.metrics_token,
            "RASA_API_SECRET": self.api_secret,  # the console inside the server signs with it too
        }


def load_runtime_settings(environ: dict[str, str] | None = None) -> RuntimeSettings:
    env = os.environ if environ is None else environ
    return RuntimeSettings(
        bot_host=env.get("BOT_HOST", "127.0.0.1"),
        bot_port=int(env.get("BOT_PORT", "5005")),
        action_host=env.get("ACTION_HOST", "127.0.0.1"),
        action_port=int(env.get("ACTION_PORT", "5055")),
        # Without a configured secret, each start makes a fresh one shared by the two servers.
        action_server_token=env.get("ACTION_SERVER_TOKEN") or secrets.token_urlsafe(32),
        api_secret=env.get("RASA_API_SECRET") or _local_secret(PROJECT_ROOT / "var" / "rasa-api.secret"),
        model_path=Path(env.get("MODEL_PATH", PROJECT_ROOT / "models" / "facet-assistant.tar.gz")),
        tracker_db=Path(env.get("TRACKER_DB", PROJECT_ROOT / "var" / "tracker.db")),
        cors_origins=parse_cors_origins(env.get("BOT_CORS_ORIGINS", "")),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        tracker_store_url=env.get("TRACKER_STORE_URL", ""),
        lock_store_url=env.get("LOCK_STORE_URL", ""),
        model_server_url=env.get("MODEL_SERVER_URL", ""),
        model_pull_seconds=int(env.get("MODEL_PULL_SECONDS", "10")),
        action_server_url=env.get("ACTION_SERVER_URL", ""),
        metrics_token=env.get("METRICS_TOKEN", ""),
    )


def parse_cors_origins(value: str) -> tuple[str, ...]:
    """Exact origins (https://www.example.org) the widget may be embedded from; never a wildcard,
    which would let any site drive conversations in a visitor's name."""
    origins = tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())
    for origin in origins:
        parsed = urlsplit(origin)
        if "*" in origin or parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path:
            raise ValueError(
                f"BOT_CORS_ORIGINS: {origin!r} is not an exact origin like https://www.example.org"
            )
    return origins


def _local_secret(path: Path) -> str:
    """A secret kept in a file only this user can read, made on first use: the server and the
    staff commands on the same machine share it without anyone configuring it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()
