"""Catching up on what could not be done at submit time: store the requests kept in the spool
(database was unavailable), then send the staff notifications still pending.

Run after each successful submit (in the background), by `python -m bot bookings retry`, and
every few minutes in the action server (`start_booking_retry`). Any number of these may run at
once: the spool drains with idempotency keys and notifications are claimed before sending.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from bot.bookings.notify import Notifier, deliver_pending, notifiers_from_env
from bot.bookings.periodic import run_with_app, start_periodic
from bot.bookings.spool import BookingSpool, DrainReport
from bot.bookings.store import BookingStore

logger = logging.getLogger(__name__)

RETRY_EVERY_SECONDS = 300.0


@dataclass(frozen=True)
class RetryReport:
    spool: DrainReport
    sent: int
    failed: int

    @property
    def all_done(self) -> bool:
        return self.spool.waiting == 0 and self.failed == 0


def retry_bookings(store: BookingStore, spool: BookingSpool, notifiers: List[Notifier]) -> RetryReport:
    """Drains the spool into the store, then delivers pending notifications once each."""
    drained = spool.drain(store, [notifier.name for notifier in notifiers])
    counts = deliver_pending(store, notifiers)
    return RetryReport(spool=drained, sent=counts["sent"], failed=counts["failed"])


class _LazyStore:
    """The store is built on the first run that can reach the database, then reused."""

    def __init__(self, factory: Callable[[], BookingStore]) -> None:
        self._factory = factory
        self._store: Optional[BookingStore] = None

    def get(self) -> BookingStore:
        if self._store is None:
            self._store = self._factory()
        return self._store


def start_booking_retry(
    loop: asyncio.AbstractEventLoop,
    store_factory: Callable[[], BookingStore] = BookingStore.from_url,
    spool_factory: Callable[[], BookingSpool] = BookingSpool.from_env,
    every_seconds: float = RETRY_EVERY_SECONDS,
    first_delay_seconds: float = 30.0,
) -> "asyncio.Task[None]":
    """Every few minutes: store kept requests and send pending notifications (action server)."""
    store = _LazyStore(store_factory)

    def run_once() -> None:
        spool = spool_factory()
        if not len(spool) and not store.get().pending_notifications():
            return
        report = retry_bookings(store.get(), spool, notifiers_from_env())
        if report.spool.stored or report.sent or not report.all_done:
            logger.info(
                "Booking retry: %d kept request(s) stored, %d still kept; %d notification(s) sent, %d failed",
                report.spool.stored,
                report.spool.waiting,
                report.sent,
                report.failed,
            )

    return start_periodic(
        loop,
        run_once,
        every_seconds=every_seconds,
        first_delay_seconds=first_delay_seconds,
        name="booking retry",
    )


def register_booking_retry(app: Any, **options: Any) -> None:
    """Wires the periodic retry into a Sanic app, the action server (app.ctx.booking_retry_task):
    started after the server starts, cancelled before it stops. `options` go to start_booking_retry."""
    run_with_app(app, lambda loop: start_booking_retry(loop, **options), "booking_retry_task")
