"""Benchmark: REST and SMS-webhook latency and throughput, memory, training time, `make run`
start-up time, the widget bundle's size.

Everything runs on loopback against the real servers. Results go to docs/performance.md
(between the BENCH markers) with the date and machine. Not a test: numbers on a shared
2-core machine vary; compare runs, don't gate on them.
Usage: python scripts/bench.py [--skip-training] [--requests 100]
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
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.launcher import Servers, settings_with_ports  # noqa: E402
from bot.topics import load_topics  # noqa: E402
from tests.conftest import free_port  # noqa: E402

PERFORMANCE_DOC = ROOT / "docs" / "performance.md"
WIDGET_BUNDLE = ROOT / "widget" / "dist" / "clinic-chat.js"
START, END = "<!-- BENCH:START -->", "<!-- BENCH:END -->"


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


def rest_request(channel: str, users: int, user: int, index: int, question: str) -> dict:
    if channel == "rest":
        return {"json": {"sender": f"bench-{users}-{user}", "message": question}}
    form = {
        "MessageSid": f"SM-bench-{users}-{user}-{index}-{time.time_ns()}",
        "From": f"+1305{2_000_000 + 1000 * users + user}",
        "Body": question,
    }
    signature = RequestValidator(BENCH_TWILIO["TWILIO_AUTH_TOKEN"]).compute_signature(
        BENCH_TWILIO["PUBLIC_BASE_URL"] + SMS_PATH, form
    )
    return {"data": form, "headers": {"X-Twilio-Signature": signature}}


async def simulate_users(url: str, users: int, messages_per_user: int, channel: str = "rest") -> dict:
    """Each simulated user sends its messages one after another; users run concurrently."""
    questions = [topic.question for topic in load_topics().values()]
    latencies: list[float] = []
    errors = 0

    async def one_user(session: aiohttp.ClientSession, user: int) -> None:
        nonlocal errors
        for index in range(messages_per_user):
            request = rest_request(channel, users, user, index, questions[(user + index) % len(questions)])
            started = time.perf_counter()
            async with session.post(url, **request) as reply:
                await reply.read()
                errors += reply.status != 200
            latencies.append(time.perf_counter() - started)

    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(one_user(session, user) for user in range(users)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "channel": channel,
        "users": users,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        "per_second": len(latencies) / elapsed,
    }


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--requests", type=int, default=100, help="messages per level of concurrency")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update({**BENCH_TWILIO, "DATABASE_URL": f"sqlite:///{tmp}/clinic.db"})
        settings = settings_with_ports(free_port(), free_port(), Path(tmp) / "tracker.db")
        with Servers(settings, log_dir=Path(tmp) / "logs") as servers:
            sms_url = servers.rest_url.replace("/webhooks/rest/webhook", SMS_PATH)
            asyncio.run(simulate_users(servers.rest_url, 2, 5))  # warm-up
            for users in (1, 10):
                rows.append(
                    asyncio.run(simulate_users(servers.rest_url, users, max(1, args.requests // users)))
                )
            for users in (1, 10):
                rows.append(
                    asyncio.run(simulate_users(sms_url, users, max(1, args.requests // users), "sms"))
                )
            rasa_rss, actions_rss = (
                rss_mb(servers.pid("rasa")),
                rss_mb(servers.pid("actions")),
            )
        ready_seconds = measure_make_run_to_ready(Path(tmp) / "run-tracker.db")
    parse_p50, parse_p95, parsed = measure_parse_ms()
    training_seconds = None if args.skip_training else measure_training()

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        START,
        f"Measured {now} on {platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}) by `make bench`.",
        "",
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
    doc = PERFORMANCE_DOC.read_text() if PERFORMANCE_DOC.exists() else f"# Performance\n\n{START}\n{END}\n"
    PERFORMANCE_DOC.write_text(
        re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: table, doc, flags=re.S)
    )


if __name__ == "__main__":
    main()
