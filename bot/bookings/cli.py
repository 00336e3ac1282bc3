"""Staff commands: python -m bot bookings list | export | retry."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import datetime, timezone
from typing import List, TextIO

from sqlalchemy.exc import SQLAlchemyError

from bot.bookings.model import BookingRequest
from bot.bookings.notify import notifiers_from_env
from bot.bookings.retry import retry_bookings
from bot.bookings.spool import BookingSpool
from bot.bookings.store import BookingStore
from bot.log_privacy import error_summary

EXPORT_FIELDS = [
    "reference", "created_at", "name", "phone", "email", "preferred_time", "interest", "consent", "channel",
    "notification_status", "language",
]  # fmt: skip


def parse_since(value: str) -> datetime:
    """'2026-11-01' or '2026-11-01T09:00' (UTC unless an offset is given)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (use YYYY-MM-DD)") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def add_parser(commands: argparse._SubParsersAction) -> None:
    bookings = commands.add_parser("bookings", help="appointment requests: list, export, retry notifications")
    actions = bookings.add_subparsers(dest="bookings_command", required=True)
    for name, help_text in [
        ("list", "show requests, newest first"),
        ("export", "write requests as CSV or JSON"),
    ]:
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("--since", type=parse_since, help="only requests from this date on (YYYY-MM-DD)")
        if name == "export":
            sub.add_argument("--format", choices=["csv", "json"], default="csv")
    actions.add_parser(
        "retry", help="store requests kept while the database was down, send notifications still pending"
    )


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    if args.bookings_command == "retry":
        return retry(out)
    store = BookingStore.from_url()
    requests = store.list(since=args.since)
    if args.bookings_command == "list":
        print_table(requests, out)
    elif args.format == "csv":
        write_csv(requests, out)
    else:
        json.dump([export_row(r) for r in requests], out, indent=2)
        out.write("\n")
    return 0


def retry(out: TextIO) -> int:
    """Exit status 0 when nothing is left waiting, 1 otherwise (cron can alert on it)."""
    spool = BookingSpool.from_env()
    try:
        report = retry_bookings(BookingStore.from_url(), spool, notifiers_from_env())
    except SQLAlchemyError as error:
        print(
            f"The booking database is unavailable ({error_summary(error)}); "
            f"{len(spool)} request(s) stay kept in {spool.directory}",
            file=out,
        )
        return 1
    print(
        f"stored {report.spool.stored} kept request(s), {report.spool.waiting} still kept; "
        f"sent {report.sent}, still pending {report.failed}",
        file=out,
    )
    return 0 if report.all_done else 1


def export_row(request: BookingRequest) -> dict:
    row = {name: getattr(request, name) for name in EXPORT_FIELDS}
    row["created_at"] = request.created_at.isoformat(timespec="seconds")
    return row


def write_csv(requests: List[BookingRequest], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for request in requests:
        writer.writerow(export_row(request))


def print_table(requests: List[BookingRequest], out: TextIO) -> None:
    if not requests:
        print("No appointment requests.", file=out)
        return
    for r in requests:
        created = r.created_at.strftime("%Y-%m-%d %H:%M")
        print(
            f"{r.reference}  {created}  {r.name:<24.24}  {r.phone:<16}  {r.preferred_time:<36.36}  {r.notification_status}",
            file=out,
        )
