"""python -m bot privacy purge [--older-than 30d] [--tracker-url URL]"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, TextIO

from bot.privacy.purge import default_retention, parse_duration, purge, purge_configured


def _duration(value: str):
    try:
        return parse_duration(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def add_parser(commands: argparse._SubParsersAction) -> None:
    privacy = commands.add_parser("privacy", help="retention: purge old conversations and records")
    actions = privacy.add_subparsers(dest="privacy_command", required=True)
    purge_parser = actions.add_parser(
        "purge", help="remove conversations idle longer than the retention, and old records"
    )
    purge_parser.add_argument(
        "--older-than",
        type=_duration,
        help="e.g. 30d or 12h (default: RETENTION_DAYS days, 30 if unset)",
    )
    purge_parser.add_argument(
        "--tracker-url",
        help="SQLAlchemy URL of Rasa's tracker store (default: TRACKER_STORE_URL, else the TRACKER_DB file)",
    )


def run(args: argparse.Namespace, out: Optional[TextIO] = None) -> int:
    from bot.database import create_database_engine

    out = out or sys.stdout  # looked up now, not at import (tests and wrappers replace it)
    older_than = args.older_than or default_retention()
    if args.tracker_url:
        tracker, clinic = create_database_engine(args.tracker_url), create_database_engine()
        try:
            report = purge(older_than, tracker=tracker, clinic=clinic)
        finally:
            tracker.dispose()
            clinic.dispose()
    else:
        report = purge_configured(older_than)
    print(f"Removed {report.summary()} (older than {_describe(older_than)}).", file=out)
    return 0


def _describe(duration) -> str:
    seconds = int(duration.total_seconds())
    for unit, size in (("days", 86400), ("hours", 3600)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds // 60} minutes"
