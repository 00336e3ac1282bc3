"""The daily retention purge inside a running server (the Rasa server, which has the tracker store)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any, Optional

from bot.bookings.periodic import run_with_app, start_periodic
from bot.privacy.purge import purge_configured

logger = logging.getLogger(__name__)

DAY_SECONDS = 24 * 3600.0
# Not at start-up itself: the server's first minutes go to loading the model.
FIRST_RUN_AFTER_SECONDS = 600.0


def run_purge_once(older_than: Optional[timedelta] = None) -> None:
    report = purge_configured(older_than)
    logger.info("Privacy purge removed %s", report.summary())


def start_daily_purge(
    loop: asyncio.AbstractEventLoop,
    older_than: Optional[timedelta] = None,
    every_seconds: float = DAY_SECONDS,
    first_delay_seconds: float = FIRST_RUN_AFTER_SECONDS,
) -> "asyncio.Task[None]":
    """Purges once a day off the event loop (asyncio.to_thread) and logs the counts. Retention
    is RETENTION_DAYS (default 30) unless `older_than` is given. Cancel the task to stop it."""
    return start_periodic(
        loop,
        lambda: run_purge_once(older_than),
        every_seconds=every_seconds,
        first_delay_seconds=first_delay_seconds,
        name="privacy purge",
    )


def register_daily_purge(app: Any, **options: Any) -> None:
    """Wires the daily purge into a Sanic app or blueprint (app.ctx.privacy_purge_task): started
    after the server starts, cancelled before it stops. `options` go to start_daily_purge."""
    run_with_app(app, lambda loop: start_daily_purge(loop, **options), "privacy_purge_task")
