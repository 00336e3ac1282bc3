"""Keeps patient contact details out of logs: phone numbers, email addresses and the
"[parameters: ...]" part SQLAlchemy adds to a failed statement's error are redacted from every
log record (message, arguments, exception text, stack).

`install_pii_log_filter()` (called once at start-up by each server process):
- wraps the log-record factory, so every record is redacted when it is made, whichever logger
  or handler it then goes to, including handlers added later (Rasa and Sanic add their own);
- adds `PiiRedactingFilter` to every handler that exists now: a second line of defence for
  records made elsewhere (logging.makeLogRecord from a queue or socket), and cheap: a record the
  factory already redacted passes with one attribute check.

Names cannot be recognised by a pattern; they are kept out by not logging them and by
hide_parameters=True on every engine (bot/database.py). Standard library only: this runs first.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Callable, List

PARAMETERS = re.compile(r"\[parameters: [^\n]*")  # SQLAlchemy prints the bound values on one line
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
PHONE = re.compile(
    r"\+\d[\d ().-]{6,}\d"  # international / E.164: +13055550123, +1 (305) 555-0123
    # US national: 3055550123, 305-555-0123, (305) 555-0123, 305.555.0123; not part of a longer
    # number, a decimal (an epoch time such as 1700000000.5) or a word.
    r"|(?<![\w.+])(?:\(\d{3}\) ?|\d{3}[ .-]?)\d{3}[ .-]?\d{4}(?![\w]|\.\d)"
)
EMAIL_MASK, PHONE_MASK, PARAMETERS_MASK = "[email]", "[phone]", "[parameters: redacted]"

# Set on a record once redacted, to the redacted msg object: a later change of msg shows.
_MARK = "_pii_redacted_msg"


def redact(text: str) -> str:
    """The text with SQL parameters, email addresses and phone numbers masked."""
    if not text:
        return text
    if "[parameters:" in text:
        text = PARAMETERS.sub(PARAMETERS_MASK, text)
    if "@" in text:
        text = EMAIL.sub(EMAIL_MASK, text)
    return PHONE.sub(PHONE_MASK, text)


def redact_record(record: logging.LogRecord) -> None:
    """Redacts the record in place: its formatted message replaces msg and args (the arguments
    would put the values back), and the exception is turned into redacted text."""
    if getattr(record, _MARK, None) is record.msg and not record.exc_info:
        return
    try:
        message = record.getMessage()
    except Exception:  # bad format arguments: keep what can be shown
        message = str(record.msg)
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None:
        if not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        # Formatters append exc_text; left in place, exc_info would be formatted again, raw.
        record.exc_info = None
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    setattr(record, _MARK, record.msg)


class PiiRedactingFilter(logging.Filter):
    """Handler filter: redacts every record it sees and lets it through."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_FILTER = PiiRedactingFilter()


def install_pii_log_filter() -> Callable[[], None]:
    """Redacts contact details from every log record of this process from now on.

    Idempotent. Returns a function undoing it (for tests).
    """
    previous_factory = logging.getLogRecordFactory()
    installed_factory = previous_factory
    if not getattr(previous_factory, "redacts_pii", False):

        def redacting_factory(*args, **kwargs) -> logging.LogRecord:
            record = previous_factory(*args, **kwargs)
            redact_record(record)
            return record

        redacting_factory.redacts_pii = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(redacting_factory)
        installed_factory = redacting_factory
    filtered: List[logging.Handler] = []
    for handler in _all_handlers():
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
            filtered.append(handler)

    def uninstall() -> None:
        if logging.getLogRecordFactory() is installed_factory:
            logging.setLogRecordFactory(previous_factory)
        for handler in filtered:
            handler.removeFilter(_FILTER)

    return uninstall


def _all_handlers() -> List[logging.Handler]:
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    seen: List[logging.Handler] = []
    for logger in loggers:
        seen.extend(handler for handler in logger.handlers if handler not in seen)
    return seen


def error_summary(error: BaseException) -> str:
    """Type and first line of an error for a log line, e.g. 'OperationalError: database is locked'.

    Only the first line: SQLAlchemy appends the SQL and its parameters on later lines, and
    PostgreSQL puts a row's values in a DETAIL line.
    """
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    first_line = redact(lines[0][:200]) if lines else ""
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
