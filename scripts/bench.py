"""Benchmark: REST and SMS-webhook latency and throughput, memory, training time, `make run`
start-up time, the widget bundle's size, and this bot side by side with a stock Rasa bot.

Everything runs on loopback against the real servers. Results go to docs/performance.md
(between the BENCH markers) with the date and machine. Not a test: numbers on a shared
2-core machine vary; compare runs, don't gate on them.

The stock bot (scripts/bench_stock.py: `rasa init --no-prompt` on the same venv, cached in
var/bench/) goes through the same measurements as this bot, right after it in the same run and
never at the same time: warm-up, 1 user, 20 concurrent users, one long conversation, the Rasa
server's RSS. Each bot gets the messages it was built for (this bot the topic questions of
bot/topics.yml, the stock bot its own data/nlu.yml examples).
Usage: python scripts/bench.py [--skip-training] [--skip-stock] [--dry-run] [--requests 100]
       [--long-messages 200]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

import aiohttp
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.launcher import Servers, settings_with_ports  # noqa: E402
from bot.topics import load_topics  # noqa: E402
from scripts import bench_stock  # noqa: E402
from tests.conftest import free_port  # noqa: E402

PERFORMANCE_DOC = ROOT / "docs" / "performance.md"
WIDGET_BUNDLE = ROOT / "widget" / "dist" / "clinic-chat.js"
START, END = "<!-- BENCH:START -->", "<!-- BENCH:END -->"
COMPARED_USERS = 20
# Messages at each end of the long conversation whose median latencies are compared.
LONG_WINDOW = 20


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


# Bench-only Twilio settings: the SMS webhook is measured with requests signed like Twilio's.
BENCH_TWILIO = {
    "TWILIO_AUTH_TOKEN": "bench-auth-token-0123456789",
    "TWILIO_SMS_NUMBER": "+13055550100",
    "PUBLIC_BASE_URL": "https://bench.example.org",
    "SENDER_ID_SECRET": "bench-sender-secret-0123456789",
}
SMS_PATH = "/webhooks/sms/webhook"


def rest_request(channel: str, conversation: str, users: int, user: int, index: int, question: str) -> dict:
    if channel == "rest":
        return {"json": {"sender": f"{conversation}-{users}-{user}", "message": question}}
    form = {
        "MessageSid": f"SM-{conversation}-{users}-{user}-{index}-{time.time_ns()}",
        "From": f"+1305{2_000_000 + 1000 * users + user}",
        "Body": question,
    }
    signature = RequestValidator(BENCH_TWILIO["TWILIO_AUTH_TOKEN"]).compute_signature(
        BENCH_TWILIO["PUBLIC_BASE_URL"] + SMS_PATH, form
    )
    return {"data": form, "headers": {"X-Twilio-Signature": signature}}


def topic_questions() -> list[str]:
    """What this bot is measured with: the canonical question of every FAQ topic."""
    return [topic.question for topic in load_topics().values()]


async def simulate_users(
    url: str,
    users: int,
    messages_per_user: int,
    channel: str = "rest",
    questions: Optional[list[str]] = None,
    conversation: str = "bench",
) -> dict:
    """Each simulated user sends its messages one after another; users run concurrently.

    `questions` are sent in turn (default: this bot's topic questions); `conversation` names the
    run, so each run talks in its own conversations. "latencies_ms" keeps the send order (for one
    user: message 1, 2, ...).
    """
    questions = questions or topic_questions()
    latencies: list[float] = []
    errors = 0

    async def one_user(session: aiohttp.ClientSession, user: int) -> None:
        nonlocal errors
        for index in range(messages_per_user):
            question = questions[(user + index) % len(questions)]
            request = rest_request(channel, conversation, users, user, index, question)
            started = time.perf_counter()
            async with session.post(url, **request) as reply:
                await reply.read()
                errors += reply.status != 200
            latencies.append((time.perf_counter() - started) * 1000)

    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(one_user(session, user) for user in range(users)))
        elapsed = time.perf_counter() - started
    return {
        "channel": channel,
        "users": users,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "per_second": len(latencies) / elapsed,
        "latencies_ms": latencies,
    }


def percentile(values: list[float], fraction: float) -> float:
    """The value at `fraction` of the sorted values, linearly interpolated (0.5: the median)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def long_window(messages: int, window: int = LONG_WINDOW) -> int:
    """How many messages at each end of a conversation are compared: `window`, or half of a
    conversation shorter than two windows, so the two ends never overlap."""
    if messages < 2:
        raise ValueError("a conversation of at least 2 messages is needed")
    return min(window, messages // 2)


def conversation_growth(latencies_ms: list[float], window: int = LONG_WINDOW) -> dict:
    """Median latency of a conversation's first and last `long_window` messages and their ratio."""
    count = len(latencies_ms)
    window = long_window(count, window)
    first = statistics.median(latencies_ms[:window])
    last = statistics.median(latencies_ms[-window:])
    return {
        "messages": count,
        "window": window,
        "first": f"1-{window}",
        "last": f"{count - window + 1}-{count}",
        "first_ms": first,
        "last_ms": last,
        "growth": last / first,
    }


def ratio(this_bot: Optional[float], stock: Optional[float]) -> Optional[float]:
    """this bot / stock; None when either is missing or stock is 0."""
    if this_bot is None or not stock:
        return None
    return this_bot / stock


async def measure_bot(url: str, questions: list[str], requests: int, long_messages: int) -> dict:
    """The measurements both bots go through, in this order: warm-up, 1 user, COMPARED_USERS
    concurrent users, one long conversation from a single sender."""
    await simulate_users(url, 2, 5, questions=questions, conversation="bench-warm-up")
    one_user = await simulate_users(url, 1, requests, questions=questions)
    many_users = await simulate_users(
        url, COMPARED_USERS, max(1, requests // COMPARED_USERS), questions=questions
    )
    # The same `window` messages over and over: any `window` messages in a row are the same texts,
    # so the first and last ones differ only in how long the conversation has become.
    repeated = questions[: long_window(long_messages)]
    long = await simulate_users(url, 1, long_messages, questions=repeated, conversation="bench-long")
    return {
        "one_user": one_user,
        "many_users": many_users,
        "long": {**conversation_growth(long["latencies_ms"]), "errors": long["errors"]},
        "errors": one_user["errors"] + many_users["errors"] + long["errors"],
    }


@dataclass(frozen=True)
class Comparison:
    """One row of the side-by-side table: a figure of both bots and, maybe, a target on it."""

    measure: str
    value: Callable[[dict], float]
    unit: str = "ms"
    # "<=", ">=" or "=" against `bound`: of the ratio this bot / stock, or of this bot's own figure.
    target: str = ""
    bound: float = 1.0
    own_target: bool = False


def comparisons(long: dict) -> list[Comparison]:
    """The rows of issue 12's targets (plus context rows without one)."""
    first, last = long["first"], long["last"]
    return [
        Comparison("1 user: p50", lambda f: f["one_user"]["p50_ms"], target="<="),
        Comparison("1 user: p95", lambda f: f["one_user"]["p95_ms"], target="<="),
        Comparison(
            f"{COMPARED_USERS} users: throughput",
            lambda f: f["many_users"]["per_second"],
            unit="msg/s",
            target=">=",
            bound=3.0,
        ),
        Comparison(f"{COMPARED_USERS} users: p50", lambda f: f["many_users"]["p50_ms"]),
        Comparison(f"{COMPARED_USERS} users: p95", lambda f: f["many_users"]["p95_ms"], target="<="),
        Comparison(f"one conversation: median of messages {first}", lambda f: f["long"]["first_ms"]),
        Comparison(f"one conversation: median of messages {last}", lambda f: f["long"]["last_ms"]),
        Comparison(
            f"one conversation: messages {last} / {first}",
            lambda f: f["long"]["growth"],
            unit="x",
            target="<=",
            bound=1.2,
            own_target=True,
        ),
        Comparison("Rasa server RSS after the load", lambda f: f["rss_mb"], unit="MB", target="<="),
        Comparison(
            "errors (non-200 replies), all of the above",
            lambda f: f["errors"],
            unit="",
            target="=",
            bound=0,
            own_target=True,
        ),
    ]


def comparison_rows(this_bot: dict, stock: Optional[dict]) -> list[list[str]]:
    """measure | stock | this bot | ratio | target | met? (stock None: not measured)."""
    rows = []
    for row in comparisons(this_bot["long"]):
        ours = row.value(this_bot)
        theirs = row.value(stock) if stock is not None else None
        relative = ratio(ours, theirs)
        if not row.target:
            target, met = "-", "-"
        elif row.own_target:
            target = f"this bot {row.target} {_number(row.bound, row.unit)}"
            met = _yes(_holds(ours, row.target, row.bound))
        else:
            target = f"{row.target} {row.bound:.2f}x stock"
            met = "-" if relative is None else _yes(_holds(relative, row.target, row.bound))
        rows.append(
            [
                row.measure,
                "not measured" if theirs is None else _number(theirs, row.unit),
                _number(ours, row.unit),
                "-" if relative is None or row.own_target else f"{relative:.2f}x",
                target,
                met,
            ]
        )
    return rows


def this_bot_setup(settings) -> str:
    """How this bot ran in the benchmark, in the words of the comparison's note."""
    tracker = "at TRACKER_STORE_URL" if settings.tracker_store_url else "SQLite file"
    locks = "Redis (LOCK_STORE_URL)" if settings.lock_store_url else "in memory"
    return f"This bot = `python -m bot run` servers: tracker store {tracker}, lock store {locks}, its action server"


def comparison_table(this_bot: dict, stock: Optional[dict], requests: int, setup: str) -> list[str]:
    """The "this bot vs stock (same run)" section of docs/performance.md, as Markdown lines."""
    long = this_bot["long"]
    stock_note = (
        "stock not measured (`--skip-stock`)."
        if stock is None
        else f"{bench_stock.SETUP_NOTE}; measured right after this bot, never at the same time."
    )
    return [
        "**this bot vs stock (same run)**: REST on loopback, the same load generator for both; "
        f"1 user sends {requests} messages, {COMPARED_USERS} users {max(1, requests // COMPARED_USERS)} "
        f"each, one conversation of {long['messages']} messages from one sender (its first "
        f"{long['window']} questions over and over), after a warm-up. "
        "This bot gets its topic questions (bot/topics.yml), the stock bot its own training "
        f"examples (its data/nlu.yml). {setup}; {stock_note}",
        "",
        "| measure | stock | this bot | ratio | target | met? |",
        "|---|---|---|---|---|---|",
        *["| " + " | ".join(cells) + " |" for cells in comparison_rows(this_bot, stock)],
    ]


def _holds(value: float, target: str, bound: float) -> bool:
    return {"<=": value <= bound, ">=": value >= bound, "=": value == bound}[target]


def _yes(held: bool) -> str:
    return "yes" if held else "**no**"


def _number(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "msg/s":
        return f"{value:.1f} msg/s"
    return f"{value:.0f} {unit}".rstrip()


def measure_stock(requests: int, long_messages: int) -> dict:
    """The stock bot through the same measurements (built and cached first if needed)."""
    bot_dir, model = bench_stock.ensure_stock_bot(bench_stock.rasa_version())
    with bench_stock.StockServer(bot_dir, model, free_port(), bot_dir / "rasa-run.log") as stock:
        figures = asyncio.run(
            measure_bot(stock.rest_url, bench_stock.stock_questions(bot_dir), requests, long_messages)
        )
        figures["rss_mb"] = rss_mb(stock.pid)
    return figures


def measure_cluster(requests: int) -> dict:
    """COMPARED_USERS concurrent users through haproxy to two replicas on PostgreSQL and Redis
    (bot/cluster.py, what `make cluster` runs), in a throw-away database."""
    from sqlalchemy import create_engine, text

    from bot.cluster import Cluster, ClusterLayout

    database = "clinic_bench_cluster"
    admin = create_engine("postgresql://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))

    drop()
    with tempfile.TemporaryDirectory() as run_dir:
        layout = ClusterLayout(
            lb_port=free_port(),
            replica_ports=(free_port(), free_port()),
            action_port=free_port(),
            model_server_port=free_port(),
            run_dir=Path(run_dir),
            postgres_url=f"postgresql://postgres@127.0.0.1:5432/{database}",
        )
        try:
            with Cluster(layout) as cluster:
                questions = topic_questions()
                asyncio.run(
                    simulate_users(
                        f"{layout.lb_url}/webhooks/rest/webhook",
                        4,
                        5,
                        questions=questions,
                        conversation="bench-warm-up",
                    )
                )
                figures = asyncio.run(
                    simulate_users(
                        f"{layout.lb_url}/webhooks/rest/webhook",
                        COMPARED_USERS,
                        max(1, requests // COMPARED_USERS),
                        questions=questions,
                    )
                )
                figures["rss_mb"] = sum(rss_mb(cluster.pid(name)) for name in cluster.replica_names)
        finally:
            drop()
            admin.dispose()
    return figures


def cluster_table(cluster: dict, this_bot: dict, stock: Optional[dict]) -> list:
    one = this_bot["many_users"]
    rows = [
        ("stock `rasa init` bot, 1 process", stock["many_users"] if stock else None),
        ("this bot, 1 replica (SQLite)", one),
        ("this bot, 2 replicas + haproxy (PostgreSQL, Redis)", cluster),
    ]
    lines = [
        f"Cluster: {COMPARED_USERS} concurrent users, the same load as the row above, through haproxy "
        "to two replicas (`bot/cluster.py`, what `make cluster` runs), all on this one 2-core machine.",
        "",
        "| setup | messages/s | p50 (ms) | p95 (ms) | errors | throughput vs 1 replica | vs stock |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, figures in rows:
        if figures is None:
            lines.append(f"| {name} | not measured | | | | | |")
            continue
        versus_one = figures["per_second"] / one["per_second"]
        versus_stock = f"{figures['per_second'] / stock['many_users']['per_second']:.2f}x" if stock else "-"
        lines.append(
            f"| {name} | {figures['per_second']:.1f} | {figures['p50_ms']:.0f} | {figures['p95_ms']:.0f} "
            f"| {figures['errors']} | {versus_one:.2f}x | {versus_stock} |"
        )
    lines.append(f"| (replicas' RSS together) | {cluster['rss_mb']:.0f} MB | | | | | |")
    return lines


def bundle_sizes() -> str:
    if not WIDGET_BUNDLE.exists():
        return "not built"
    data = WIDGET_BUNDLE.read_bytes()
    return f"{len(data) / 1024:.0f} KB ({len(gzip.compress(data, 9)) / 1024:.0f} KB gzipped)"


def measure_training() -> float:
    with tempfile.TemporaryDirectory() as out:
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "rasa", "train", "--force", "--out", out],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        return time.monotonic() - started


def measure_parse_ms(model: Path = ROOT / "models" / "facet-assistant.tar.gz") -> tuple:
    """p50 and p95 of the NLU parse alone (in process), over the English and Spanish held-out sets."""
    from rasa.core.agent import Agent

    from bot.evaluation import load_nlu_examples

    agent = Agent.load(str(model))
    texts = [
        text
        for name in ("nlu_heldout.yml", "nlu_es_heldout.yml")
        for texts in load_nlu_examples(ROOT / "tests" / name).values()
        for text in texts
    ]

    async def timings() -> list:
        for text in texts[:20]:  # warm-up
            await agent.parse_message(text)
        found = []
        for text in texts:
            started = time.perf_counter()
            await agent.parse_message(text)
            found.append((time.perf_counter() - started) * 1000)
        return found

    found = sorted(asyncio.run(timings()))
    return statistics.median(found), found[int(len(found) * 0.95)], len(found)


def measure_make_run_to_ready(tracker_db: Path) -> float:
    """Seconds from `make run` (model already trained) to the 'assistant is ready' line."""
    env = {
        **os.environ,
        "BOT_PORT": str(free_port()),
        "ACTION_PORT": str(free_port()),
        "TRACKER_DB": str(tracker_db),
    }
    started = time.monotonic()
    process = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        for line in process.stdout:
            if "The assistant is ready" in line:
                return time.monotonic() - started
        raise RuntimeError("make run ended before the assistant was ready")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)


def parse_arguments(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skip-training", action="store_true", help="do not time a full training")
    parser.add_argument("--skip-stock", action="store_true", help="do not measure the stock Rasa bot")
    parser.add_argument(
        "--skip-cluster",
        action="store_true",
        help="do not measure two replicas behind haproxy (make cluster)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the tables, leave docs/performance.md alone"
    )
    parser.add_argument("--requests", type=int, default=100, help="messages per level of concurrency")
    parser.add_argument(
        "--long-messages", type=int, default=200, help="messages of the long single-sender conversation"
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.long_messages < 2:
        parser.error("--requests must be at least 1 and --long-messages at least 2")
    return args


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    args = parse_arguments()
    # A SIGTERM (a CI timeout, kill) unwinds like Ctrl-C: every server started here is stopped.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if not args.skip_stock:
        # Built (its model trained) before anything is measured, so training never overlaps the load.
        bench_stock.ensure_stock_bot(bench_stock.rasa_version())

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update({**BENCH_TWILIO, "DATABASE_URL": f"sqlite:///{tmp}/clinic.db"})
        settings = settings_with_ports(free_port(), free_port(), Path(tmp) / "tracker.db")
        with Servers(settings, log_dir=Path(tmp) / "logs") as servers:
            sms_url = servers.rest_url.replace("/webhooks/rest/webhook", SMS_PATH)
            # First what both bots go through, so this bot is measured the way the stock bot is.
            this_bot = asyncio.run(
                measure_bot(servers.rest_url, topic_questions(), args.requests, args.long_messages)
            )
            this_bot["rss_mb"] = rss_mb(servers.pid("rasa"))
            rows.append(this_bot["one_user"])
            rows.append(asyncio.run(simulate_users(servers.rest_url, 10, max(1, args.requests // 10))))
            rows.append(this_bot["many_users"])
            for users in (1, 10):
                rows.append(
                    asyncio.run(simulate_users(sms_url, users, max(1, args.requests // users), "sms"))
                )
            rasa_rss, actions_rss = (
                rss_mb(servers.pid("rasa")),
                rss_mb(servers.pid("actions")),
            )
        # Only after this bot's servers stopped: the two bots are never under load at once.
        stock = None if args.skip_stock else measure_stock(args.requests, args.long_messages)
        cluster = None if args.skip_cluster else measure_cluster(args.requests)
        ready_seconds = measure_make_run_to_ready(Path(tmp) / "run-tracker.db")
    parse_p50, parse_p95, parsed = measure_parse_ms()
    training_seconds = None if args.skip_training else measure_training()

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        START,
        f"Measured {now} on {platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}) by `make bench`.",
        "",
        *comparison_table(this_bot, stock, args.requests, this_bot_setup(settings)),
        "",
        *(cluster_table(cluster, this_bot, stock) + [""] if cluster else []),
        "| channel | concurrent users | requests | errors | p50 (ms) | p95 (ms) | messages/s |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {r['channel']} | {r['users']} | {r['requests']} | {r['errors']} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['per_second']:.1f} |"
            for r in rows
        ],
        "",
        "| measure | value |",
        "|---|---|",
        f"| Rasa server RSS after the load | {rasa_rss:.0f} MB |",
        f"| action server RSS after the load | {actions_rss:.0f} MB |",
        f"| NLU parse alone, p50 / p95 over {parsed} held-out messages (EN+ES) | {parse_p50:.1f} / {parse_p95:.1f} ms |",
        f"| `make run` to ready (model already trained) | {ready_seconds:.0f} s |",
        f"| widget bundle `{WIDGET_BUNDLE.relative_to(ROOT)}` | {bundle_sizes()} |",
        f"| full training (`rasa train --force`) | {'not measured' if training_seconds is None else f'{training_seconds:.0f} s'} |",
        END,
    ]
    table = "\n".join(lines)
    print(table)
    if args.dry_run:
        print(f"(--dry-run: {PERFORMANCE_DOC.relative_to(ROOT)} left unchanged)")
        return
    doc = PERFORMANCE_DOC.read_text() if PERFORMANCE_DOC.exists() else f"# Performance\n\n{START}\n{END}\n"
    PERFORMANCE_DOC.write_text(
        re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: table, doc, flags=re.S)
    )


if __name__ == "__main__":
    main()
