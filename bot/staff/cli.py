"""Staff commands: python -m bot staff review | label | add-topic | history.

review     what patients asked that the bot handled badly (scrubbed, grouped, newest first)
label      teach the bot one message: `--as faq/prp_what`, `--as out_of_scope`, or `--ignore`
add-topic  a new FAQ topic: name, title, example questions, answer
history    who changed what, when
Changes go into data/nlu.yml, domain.yml and bot/topics.yml; the running bot learns them at the
next training (`make train`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.bookings.cli import parse_since
from bot.settings import load_runtime_settings
from bot.staff import training_data
from bot.staff.audit import ADD_TOPIC, IGNORE, LABEL, AuditLog
from bot.staff.inbox import normalise, read_conversations, review_items


def add_parser(commands: argparse._SubParsersAction) -> None:
    staff = commands.add_parser("staff", help="review what patients asked and teach the bot")
    actions = staff.add_subparsers(dest="staff_command", required=True)

    review = actions.add_parser("review", help="messages the bot handled badly, newest first")
    review.add_argument("--since", type=parse_since, help="only messages from this date on (YYYY-MM-DD)")
    review.add_argument("--limit", type=int, default=50)
    review.add_argument(
        "--tracker-db", type=Path, help="the conversations' SQLite file (default: TRACKER_DB)"
    )

    label = actions.add_parser("label", help="add one patient message to the training data")
    label.add_argument("message", help="the message as the review shows it")
    target = label.add_mutually_exclusive_group(required=True)
    target.add_argument("--as", dest="label", help="an intent or FAQ topic (faq/<topic>), or out_of_scope")
    target.add_argument("--ignore", action="store_true", help="leave it out of training and the inbox")
    label.add_argument("--by", required=True, help="your name, for the history")

    topic = actions.add_parser("add-topic", help="a new FAQ topic with example questions and its answer")
    topic.add_argument("name", help="lowercase_with_underscores, e.g. parking_info")
    topic.add_argument("--title", required=True, help="short button title, e.g. 'Parking'")
    topic.add_argument(
        "--example", action="append", required=True, help="an example question (repeat, 5 or more)"
    )
    topic.add_argument("--answer", required=True, help="the answer the bot gives")
    topic.add_argument("--by", required=True, help="your name, for the history")

    history = actions.add_parser("history", help="who changed what, newest first")
    history.add_argument("--limit", type=int, default=50)

    actions.add_parser("labels", help="the intents and topics a message can be labelled with")


def run(args: argparse.Namespace) -> int:
    audit = AuditLog.from_url()
    try:
        if args.staff_command == "review":
            return _review(args, audit)
        if args.staff_command == "label":
            return _label(args, audit)
        if args.staff_command == "add-topic":
            training_data.add_topic(
                args.name, args.title, args.example, args.answer, training_data.PROJECT_FILES
            )
            audit.record(args.by, ADD_TOPIC, topic=args.name, title=args.title, examples=len(args.example))
            print(f"Added topic faq/{args.name}. Retrain (make train) for the bot to use it.")
            return 0
        if args.staff_command == "labels":
            print("\n".join(training_data.known_labels(training_data.PROJECT_FILES)))
            return 0
        for entry in audit.entries(args.limit):
            print(entry.line())
        return 0
    except training_data.LabelRefused as refusal:
        print(f"Not changed: {refusal}", file=sys.stderr)
        return 2


def _review(args: argparse.Namespace, audit: AuditLog) -> int:
    tracker_db = args.tracker_db or load_runtime_settings().tracker_db
    if not tracker_db.exists():
        print(f"No conversations yet ({tracker_db} does not exist).")
        return 0
    items = review_items(
        read_conversations(f"sqlite:///{tracker_db}", args.since), audit.handled_keys(), args.limit
    )
    if not items:
        print("Nothing to review.")
    for item in items:
        print(_row(item))
    return 0


def _row(item) -> str:
    reasons = "; ".join(sorted(item.reasons))
    return (
        f"{item.last_seen:%Y-%m-%d %H:%M}  x{item.count:<3} {item.text}\n"
        f"    bot's guess: {item.guess} ({item.confidence:.2f}) - {reasons}"
    )


def _label(args: argparse.Namespace, audit: AuditLog) -> int:
    key = normalise(args.message)
    if args.ignore:
        audit.record(args.by, IGNORE, key=key, message=args.message)
        print("Ignored: it will not show in the review again.")
        return 0
    training_data.add_example(args.message, args.label, training_data.PROJECT_FILES)
    audit.record(args.by, LABEL, key=key, message=args.message, label=args.label)
    print(f"Added to {args.label}. Retrain (make train) for the bot to learn it.")
    return 0
