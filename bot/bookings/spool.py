"""Appointment requests the database could not take yet, kept in local files until it can.

Why files and not slots: a request kept in the conversation's slots is stored only if that
patient writes again, and the tracker store may be down too. A file is drained by whoever comes
next: the next submit (any patient), the action server's periodic retry, or
`python -m bot bookings retry`.

- One JSON file per request, named after a hash of the idempotency key (the key holds the
  conversation id; a hash makes a safe, fixed-length name).
- Written atomically: a private temp file, fsync, then os.link to the final name, which fails if
  the name exists. So a reader never sees half a file, and the first request kept for a key
  stays (the patient was given its reference).
- Files and folder are owner-only (0600/0700): they hold names and phone numbers.
- Exactly once: draining stores each file with its idempotency key (BookingStore.add), so a file
  drained twice, or by two drainers at once, is stored once; the file is removed only after the
  database has the request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from sqlalchemy.exc import IntegrityError

from bot import PROJECT_ROOT
from bot.bookings.model import BookingRequest
from bot.bookings.store import BookingStore
from bot.log_privacy import error_summary
from bot.privacy.files import PRIVATE_FILE_MODE, ensure_private_dir

logger = logging.getLogger(__name__)

SPOOL_DIR_ENV = "BOOKING_SPOOL_DIR"
DEFAULT_SPOOL_DIR = PROJECT_ROOT / "var" / "booking-spool"
SUFFIX = ".json"
TEMP_PREFIX = "."
# A temp file this old was left by a process that died mid-write: it holds patient data, remove it.
ABANDONED_TEMP_SECONDS = 3600
FORMAT_VERSION = 1
REQUEST_FIELDS = (
    "reference", "name", "phone", "preferred_time", "consent", "email", "interest", "channel", "language",
)  # fmt: skip


@dataclass(frozen=True)
class DrainReport:
    stored: int = 0  # newly stored in the database
    already_stored: int = 0  # the database had them already (a replay, or another drainer)
    waiting: int = 0  # still in the spool (database still unavailable, or an unreadable file)


def spool_dir_from_env() -> Path:
    return Path(os.environ.get(SPOOL_DIR_ENV) or DEFAULT_SPOOL_DIR)


class BookingSpool:
    def __init__(self, directory: Union[str, Path]) -> None:
        self.directory = Path(directory)

    @classmethod
    def from_env(cls) -> "BookingSpool":
        return cls(spool_dir_from_env())

    def keep(
        self, request: BookingRequest, idempotency_key: str, notifiers: Iterable[str] = ()
    ) -> BookingRequest:
        """Keeps the request until the database can take it; returns the request kept for this
        key (an earlier one if the same confirmation was kept before). Raises OSError if the
        file cannot be written."""
        ensure_private_dir(self.directory)
        final = self._path_for(idempotency_key)
        record = {
            "version": FORMAT_VERSION,
            "idempotency_key": idempotency_key,
            "notifiers": list(notifiers),
            "request": _request_to_dict(request),
        }
        temp = self.directory / f"{TEMP_PREFIX}{final.stem}.{secrets.token_hex(4)}.tmp"
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(record, handle, ensure_ascii=False)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temp, final)  # atomic, and refuses to replace an existing file
            except FileExistsError:
                kept = self._read(final)
                logger.info("Booking request was already kept in the spool")
                return kept[1] if kept else request
        finally:
            temp.unlink(missing_ok=True)
        _fsync_dir(self.directory)
        logger.warning(
            "Booking request %s kept in the local spool until the database is back", request.reference
        )
        return request

    def pending(self) -> List[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob(f"*{SUFFIX}") if not p.name.startswith(TEMP_PREFIX))

    def __len__(self) -> int:
        return len(self.pending())

    def drain(self, store: BookingStore, notifiers: Iterable[str]) -> DrainReport:
        """Stores every kept request exactly once, with one pending notification per notifier
        (those named when it was kept, and `notifiers`).

        Stops at the first database error (the database is still down; the rest waits too).
        Never raises for a database or file problem: the report says how many still wait.
        """
        names = list(notifiers)
        stored = already = 0
        files = self.pending()
        self._remove_abandoned_temps()
        for index, path in enumerate(files):
            kept = self._read(path)
            if kept is None:
                continue  # gone (another drainer) or unreadable (logged)
            key, request, kept_names = kept
            # The notifiers of the server that took the request, and of this drainer: a retry
            # run from a shell without the SMTP settings must not drop the staff email.
            outbox = list(dict.fromkeys([*kept_names, *names]))
            try:
                _, created = store.add(request, key, outbox)
            except IntegrityError:
                # Not a replay (add() handles those) but a clash on the reference: this one file
                # needs staff (`bookings list` shows nothing for it); the others can go on.
                logger.error("Kept booking request %s clashes with a stored one", request.reference)
                continue
            except Exception as error:
                logger.warning(
                    "Booking database still unavailable (%s); %d kept request(s) wait",
                    error_summary(error),
                    len(files) - index,
                )
                break
            stored += created
            already += not created
            path.unlink(missing_ok=True)  # only now: the database has it
        if stored:
            logger.info("Stored %d booking request(s) from the spool", stored)
        return DrainReport(stored=stored, already_stored=already, waiting=len(self))

    def _path_for(self, idempotency_key: str) -> Path:
        return self.directory / (hashlib.sha256(idempotency_key.encode()).hexdigest() + SUFFIX)

    @staticmethod
    def _read(path: Path) -> Optional[Tuple[str, BookingRequest, List[str]]]:
        """(idempotency key, request, notifier names) kept in the file."""
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            names = [str(name) for name in record.get("notifiers", [])]
            return record["idempotency_key"], _request_from_dict(record["request"]), names
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            # Left in place for staff to look at; the name is a hash, no patient data in the log.
            logger.error("Unreadable booking spool file %s (%s)", path.name, type(error).__name__)
            return None

    def _remove_abandoned_temps(self) -> None:
        cutoff = time.time() - ABANDONED_TEMP_SECONDS
        for temp in self.directory.glob(f"{TEMP_PREFIX}*.tmp"):
            try:
                if temp.stat().st_mtime < cutoff:
                    temp.unlink()
            except FileNotFoundError:
                pass


def _request_to_dict(request: BookingRequest) -> Dict[str, object]:
    values: Dict[str, object] = {name: getattr(request, name) for name in REQUEST_FIELDS}
    values["created_at"] = request.created_at.isoformat()
    return values


def _request_from_dict(values: Dict[str, object]) -> BookingRequest:
    fields = {name: values.get(name) for name in REQUEST_FIELDS}
    fields["language"] = fields["language"] or "en"  # kept before requests recorded a language
    return BookingRequest(**fields, created_at=datetime.fromisoformat(str(values["created_at"])))


def _fsync_dir(directory: Path) -> None:
    """Makes the new file's name durable too (a crash right after must not lose the request)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
