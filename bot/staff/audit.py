"""Who did what to the bot's knowledge, and when: every label, ignored message, new topic, retrain
and promotion, in the clinic database (append-only)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Set

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, select
from sqlalchemy.engine import Engine

from bot.database import create_database_engine

metadata = MetaData()
audit_log = Table(
    "staff_audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(40), nullable=False),
    Column("detail", JSON, nullable=False),
)

LABEL, IGNORE, ADD_TOPIC = "label", "ignore", "add-topic"
RETRAIN, PROMOTE, ROLLBACK = "retrain", "promote", "rollback"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    detail: Dict[str, Any]

    def line(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} UTC  {self.actor:<16} {self.action:<10} {json.dumps(self.detail, ensure_ascii=False)}"


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        metadata.create_all(engine)

    @classmethod
    def from_url(cls, url: Optional[str] = None) -> "AuditLog":
        return cls(create_database_engine(url))

    def record(self, actor: str, action: str, **detail: Any) -> None:
        if not actor.strip():
            raise ValueError("Every change needs the name of the person who made it.")
        with self._engine.begin() as connection:
            connection.execute(
                audit_log.insert().values(
                    at=datetime.now(timezone.utc), actor=actor.strip(), action=action, detail=detail
                )
            )

    def entries(self, limit: Optional[int] = None) -> List[AuditEntry]:
        query = select(audit_log).order_by(audit_log.c.id.desc())
        if limit:
            query = query.limit(limit)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [AuditEntry(_utc(row.at), row.actor, row.action, row.detail) for row in rows]

    def handled_keys(self) -> Set[str]:
        """Inbox items already labelled or ignored: they leave the inbox."""
        query = select(audit_log.c.detail).where(audit_log.c.action.in_([LABEL, IGNORE]))
        with self._engine.connect() as connection:
            return {row.detail.get("key") for row in connection.execute(query) if row.detail.get("key")}


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite drops the zone
