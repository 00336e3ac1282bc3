"""What the texting channels must remember across retries, restarts and workers, in the clinic
database: which Twilio messages were already handled, and who opted out.

Kept in SQL rather than in memory because Twilio's retry can reach another worker or a restarted
server, and an opt-out must hold until the patient texts START, whatever happens to the bot.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.database import create_database_engine

metadata = MetaData()

handled_messages = Table(
    "texting_handled_messages",
    metadata,
    Column("message_sid", String(64), primary_key=True),
    Column("handled_at", DateTime(timezone=True), nullable=False),
)
opt_outs = Table(
    "texting_opt_outs",
    metadata,
    # The HMAC conversation id, never the number.
    Column("conversation_id", String(80), primary_key=True),
    Column("opted_out_at", DateTime(timezone=True), nullable=False),
)

# Twilio retries within minutes; a day of message ids is plenty and keeps the table small.
HANDLED_RETENTION = timedelta(days=1)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class TextingState:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        metadata.create_all(engine)

    @classmethod
    def from_url(cls, url: Optional[str] = None) -> "TextingState":
        return cls(create_database_engine(url))

    def claim_message(self, message_sid: str) -> bool:
        """True the first time a MessageSid is seen, False for every retry (atomic: a unique key)."""
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    handled_messages.insert().values(message_sid=message_sid, handled_at=_now())
                )
            return True
        except IntegrityError:
            return False

    def forget_handled_before(self, cutoff: Optional[datetime] = None) -> int:
        cutoff = cutoff or _now() - HANDLED_RETENTION
        with self._engine.begin() as connection:
            return connection.execute(
                delete(handled_messages).where(handled_messages.c.handled_at < cutoff)
            ).rowcount

    def opt_out(self, conversation_id: str) -> None:
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    opt_outs.insert().values(conversation_id=conversation_id, opted_out_at=_now())
                )
        except IntegrityError:
            pass  # already opted out: the first STOP's time stands

    def opt_in(self, conversation_id: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(opt_outs).where(opt_outs.c.conversation_id == conversation_id))

    def is_opted_out(self, conversation_id: str) -> bool:
        with self._engine.connect() as connection:
            return self._is_opted_out(connection, conversation_id)

    @staticmethod
    def _is_opted_out(connection, conversation_id: str) -> bool:
        query = select(opt_outs.c.conversation_id).where(opt_outs.c.conversation_id == conversation_id)
        return connection.execute(query).first() is not None
