"""Staff commands: python -m bot staff review | label | add-topic | history.

review     what patients asked that the bot handled badly (scrubbed, grouped, newest first), each
           marked EN or ES; `--language es` for the Spanish ones only
label      teach the bot one message: `--as faq/prp_what`, `--as out_of_scope`, or `--ignore`;
           a Spanish message goes to data/nlu_es.yml (`--language` overrides the guess)
add-topic  a new FAQ topic: name, title, example questions, answer, and the same in Spanish
           (--title-es, --example-es, --answer-es); without them it warns that Spanish-speaking
           patients get the English answer
retrain    train a candidate and check it against the live model (held-out questions, conversations)
promote    put a candidate that passed live, without restarting the bot
rollback   go back to the model before the last promotion
history    who changed what, when
hash-password  a password hash for STAFF_ACCOUNTS (the browser console's logins)
Labels go into data/nlu.yml, data/nlu_es.yml, domain.yml and bot/topics.yml; `retrain` + `promote`
make the running bot use them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from bot.bookings.cli import parse_since
from bot.language import LANGUAGES
from bot.settings import load_runtime_settings
from bot.staff import retrain as retraining
from bot.staff import training_data
from bot.staff.accounts import hash_password
from bot.staff.audit import ADD_TOPIC, IGNORE, LABEL, PROMOTE, RETRAIN, ROLLBACK, AuditLog
from bot.staff.inbox import read_conversations, review_items
from bot.staff.jobs import PROGRESS_MARK
from bot.staff.models import ModelStore, PromotionRefused, announce_live_model
from bot.text_normal import normalise


def add_parser(commands: argparse._SubParsersAction) -> None:
    staff = commands.add_parser("staff", help="review what patients asked and teach the bot")
    actions = staff.add_subparsers(dest="staff_command", required=True)

    review = actions.add_parser("review", help="messages the bot handled badly, newest first")
    review.add_argument("--since", type=parse_since, help="only messages from this date on (YYYY-MM-DD)")
    review.add_argument("--limit", type=int, default=50)
    review.add_argument(
        "--tracker-db",
        type=Path,
        help="the conversations' SQLite file (default: TRACKER_STORE_URL, else TRACKER_DB)",
    )
    review.add_argument("--language", choices=LANGUAGES, help="only English (en) or Spanish (es) messages")

    label = actions.add_parser("label", help="add one patient message to the training data")
    label.add_argument("message", help="the message as the review shows it")
    target = label.add_mutually_exclusive_group(required=True)
    target.add_argument("--as", dest="label", help="an intent or FAQ topic (faq/<topic>), or out_of_scope")
    target.add_argument("--ignore", action="store_true", help="leave it out of training and the inbox")
    label.add_argument(
        "--language", choices=LANGUAGES, help="en (data/nlu.yml) or es (data/nlu_es.yml); default: guessed"
    )
    label.add_argument("--by", required=True, help="your name, for the history")

    topic = actions.add_parser("add-topic", help="a new FAQ topic with example questions and its answer")
    topic.add_argument("name", help="lowercase_with_underscores, e.g. parking_info")
    topic.add_argument("--title", required=True, help="short button title, e.g. 'Parking'")
    topic.add_argument(
        "--example", action="append", required=True, help="an example question (repeat, 5 or more)"
    )
    topic.add_argument("--answer", required=True, help="the answer the bot gives")
    topic.add_argument("--title-es", default="", help="the title in Spanish, e.g. 'Estacionamiento'")
    topic.add_argument(
        "--question-es", default="", help="the button's question in Spanish (default: the first --example-es)"
    )
    topic.add_argument(
        "--example-es", action="append", default=[], help="an example question in Spanish (repeat, 5 or more)"
    )
    topic.add_argument("--answer-es", default="", help="the answer in Spanish (usted)")
    topic.add_argument("--by", required=True, help="your name, for the history")

    retrain = actions.add_parser("retrain", help="train a candidate model and check it against the live one")
    retrain.add_argument(
        "--config", type=Path, default=retraining.CONFIG, help="Rasa config (default config.yml)"
    )
    retrain.add_argument("--by", required=True, help="your name, for the history")

    promote = actions.add_parser("promote", help="put a checked candidate live without a restart")
    promote.add_argument("candidate", nargs="?", default="latest", help="candidate id (default: the latest)")
    promote.add_argument("--by", required=True, help="your name, for the history")

    rollback = actions.add_parser("rollback", help="go back to the model before the last promotion")
    rollback.add_argument("--by", required=True, help="your name, for the history")

    history = actions.add_parser("history", help="who changed what, newest first")
    history.add_argument("--limit", type=int, default=50)

    actions.add_parser("labels", help="the intents and topics a message can be labelled with")
    actions.add_parser(
        "hash-password", help="make a password hash for STAFF_ACCOUNTS (asks for the password)"
    )


def run(args: argparse.Namespace) -> int:
    audit = AuditLog.from_url()
    try:
        if args.staff_command == "review":
            return _review(args, audit)
        if args.staff_command == "label":
            return _label(args, audit)
        if args.staff_command == "add-topic":
            return _add_topic(args, audit)
        if args.staff_command in ("retrain", "promote", "rollback"):
            return _models(args, audit)
        if args.staff_command == "hash-password":
            print(hash_password(getpass.getpass("Password for the staff console: ")))
            return 0
        if args.staff_command == "labels":
            print("\n".join(training_data.known_labels(training_data.PROJECT_FILES)))
            return 0
        for entry in audit.entries(args.limit):
            print(entry.line())
        return 0
    except (training_data.LabelRefused, PromotionRefused) as refusal:
        print(f"Not changed: {refusal}", file=sys.stderr)
        return 2


def _review(args: argparse.Namespace, audit: AuditLog) -> int:
    settings = load_runtime_settings()
    if args.tracker_db is None and settings.tracker_store_url:
        conversations_url = settings.tracker_store_url  # PostgreSQL shared by the replicas
    else:
        tracker_db = args.tracker_db or settings.tracker_db
        if not tracker_db.exists():
            print(f"No conversations yet ({tracker_db} does not exist).")
            return 0
        conversations_url = f"sqlite:///{tracker_db}"
    items = review_items(
        read_conversations(conversations_url, args.since),
        audit.handled_keys(),
        args.limit,
        language=args.language,
    )
    if not items:
        print("Nothing to review.")
    for item in items:
        print(_row(item))
    return 0


def _row(item) -> str:
    reasons = "; ".join(sorted(item.reasons))
    return (
        f"{item.last_seen:%Y-%m-%d %H:%M}  x{item.count:<3} {item.language.upper()}  {item.text}\n"
        f"    bot's guess: {item.guess} ({item.confidence:.2f}) - {reasons}"
    )


def _label(args: argparse.Namespace, audit: AuditLog) -> int:
    key = normalise(args.message)
    if args.ignore:
        audit.record(args.by, IGNORE, key=key, message=args.message)
        print("Ignored: it will not show in the review again.")
        return 0
    language = training_data.add_example(
        args.message, args.label, training_data.PROJECT_FILES, language=args.language
    )
    audit.record(args.by, LABEL, key=key, message=args.message, label=args.label, language=language)
    target = training_data.PROJECT_FILES.nlu_for(language).name
    print(
        f"Added to {args.label} ({language.upper()}, data/{target}). Retrain (make train) for the bot to learn it."
    )
    return 0


def _add_topic(args: argparse.Namespace, audit: AuditLog) -> int:
    warnings = training_data.add_topic(
        args.name, args.title, args.example, args.answer, training_data.PROJECT_FILES,
        title_es=args.title_es, question_es=args.question_es, examples_es=args.example_es,
        answer_es=args.answer_es,
    )  # fmt: skip
    audit.record(
        args.by, ADD_TOPIC, topic=args.name, title=args.title, examples=len(args.example),
        title_es=args.title_es, examples_es=len(args.example_es), spanish=bool(args.answer_es.strip()),
    )  # fmt: skip
    print(f"Added topic faq/{args.name}. Retrain (make train) for the bot to use it.")
    for warning in warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    return 0


def _models(args: argparse.Namespace, audit: AuditLog) -> int:
    settings = load_runtime_settings()
    store = ModelStore.for_live_model(settings.model_path)
    if args.staff_command == "retrain":
        try:
            candidate = retraining.train_candidate(
                store, training_data.PROJECT_FILES, args.config, say_progress
            )
            report = retraining.check_candidate(store, candidate, progress=say_progress)
        except RuntimeError as failure:
            say_progress(f"The training failed; the live model stays. {failure}".splitlines()[0])
            return 3
        audit.record(
            args.by, RETRAIN, candidate=candidate, passed=report.passed, accuracy=list(report.accuracy)
        )
        for line in report.summary().splitlines():
            say_progress(line)
        return 0 if report.passed else 1
    if args.staff_command == "promote":
        candidate = store.latest_candidate() if args.candidate == "latest" else args.candidate
        if not candidate:
            raise PromotionRefused("There is no candidate yet: run `python -m bot staff retrain` first.")
        store.promote(candidate)
        audit.record(args.by, PROMOTE, candidate=candidate)
        print(f"{candidate} is now the live model file.")
    else:
        store.rollback()
        audit.record(args.by, ROLLBACK)
        print("The previous model is the live model file again.")
    try:
        print(announce_live_model(settings, store))
    except PromotionRefused as problem:
        print(problem)
        return 1
    return 0


def say_progress(message: str) -> None:
    """Progress for people, marked so the console can tell it from Rasa's and TensorFlow's output."""
    print(f"{PROGRESS_MARK}{message}", flush=True)
