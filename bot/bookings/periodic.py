"""A blocking job run every so often from a server's event loop, in a worker thread.

Used by the booking retry (bot/bookings/retry.py) and the privacy purge (bot/privacy/schedule.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from bot.log_privacy import error_summary

logger = logging.getLogger(__name__)


def start_periodic(
    loop: asyncio.AbstractEventLoop,
    job: Callable[[], object],
    *,
    every_seconds: float,
    first_delay_seconds: float,
    name: str,
) -> "asyncio.Task[None]":
    """Runs `job` after `first_delay_seconds`, then every `every_seconds`, until the task is
    cancelled. The job runs off the event loop (asyncio.to_thread), so the server keeps
    answering; a failing run is logged (type and first line only) and the next one still comes.
    Call from the loop's thread (e.g. a Sanic `after_server_start` listener)."""

    async def repeat() -> None:
        await asyncio.sleep(first_delay_seconds)
        while True:
            try:
                await asyncio.to_thread(job)
            except Exception as error:  # keep the schedule alive whatever one run hits
                logger.error("%s failed (%s); trying again later", name, error_summary(error))
            await asyncio.sleep(every_seconds)

    return loop.create_task(repeat(), name=name)


def run_with_app(
    app: Any, start: Callable[[asyncio.AbstractEventLoop], "asyncio.Task[None]"], name: str
) -> None:
    """Ties a periodic task to a Sanic app or blueprint: `start(loop)` after the server starts,
    the task cancelled before it stops (kept in app.ctx under `name`)."""

    async def started(app_: Any, loop: asyncio.AbstractEventLoop) -> None:
        setattr(app_.ctx, name, start(loop))

    async def stopping(app_: Any, loop: asyncio.AbstractEventLoop) -> None:
        task = getattr(app_.ctx, name, None)
        if task is not None:
            task.cancel()

    app.listener("after_server_start")(started)
    app.listener("before_server_stop")(stopping)
