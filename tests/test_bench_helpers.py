"""The benchmark's own arithmetic and bookkeeping (scripts/bench.py, scripts/bench_stock.py):
percentiles, the long-conversation ratio, the "this bot vs stock" verdicts, the stock bot's
messages and cache, and that its processes are stopped as a group. Fast: no Rasa server starts."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from scripts import bench, bench_stock


def test_percentile_interpolates_between_ranks():
    values = [40.0, 10.0, 30.0, 20.0]  # unsorted on purpose
    assert bench.percentile(values, 0.5) == 25.0
    assert bench.percentile(values, 0.0) == 10.0
    assert bench.percentile(values, 1.0) == 40.0
    assert bench.percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)
    assert bench.percentile([7.0], 0.95) == 7.0
    with pytest.raises(ValueError):
        bench.percentile([], 0.5)


def test_conversation_growth_compares_first_and_last_twenty_messages():
    latencies = [100.0] * 20 + [500.0] * 160 + [130.0] * 19 + [9000.0]
    growth = bench.conversation_growth(latencies)
    assert (growth["first"], growth["last"], growth["messages"]) == ("1-20", "181-200", 200)
    assert growth["first_ms"] == 100.0
    assert growth["last_ms"] == 130.0  # a median: one slow message does not move it
    assert growth["growth"] == pytest.approx(1.3)


def test_short_conversation_is_split_in_halves_that_do_not_overlap():
    assert bench.long_window(200) == 20
    assert bench.long_window(30) == 15
    assert bench.long_window(3) == 1
    growth = bench.conversation_growth([10.0] * 15 + [20.0] * 15)
    assert (growth["first"], growth["last"]) == ("1-15", "16-30")
    assert growth["growth"] == 2.0
    with pytest.raises(ValueError):
        bench.conversation_growth([10.0])


def test_ratio_is_this_bot_over_stock_and_empty_without_stock():
    assert bench.ratio(50.0, 100.0) == 0.5
    assert bench.ratio(50.0, None) is None
    assert bench.ratio(50.0, 0.0) is None


def figures(p50, p95, per_second, p95_many, first, last, rss, errors=0) -> dict:
    return {
        "one_user": {"p50_ms": p50, "p95_ms": p95},
        "many_users": {"per_second": per_second, "p50_ms": p95_many / 2, "p95_ms": p95_many},
        "long": {
            "messages": 200,
            "window": 20,
            "first": "1-20",
            "last": "181-200",
            "first_ms": first,
            "last_ms": last,
            "growth": last / first,
        },
        "rss_mb": rss,
        "errors": errors,
    }


def verdicts(this_bot: dict, stock: dict | None) -> dict:
    return {row[0]: row for row in bench.comparison_rows(this_bot, stock)}


def test_every_target_is_met_by_a_bot_that_beats_them():
    stock = figures(55, 90, 20.0, 700, 60, 62, 1150)
    this_bot = figures(50, 90, 61.0, 650, 40, 47, 900)
    rows = verdicts(this_bot, stock)
    assert rows["20 users: throughput"] == [
        "20 users: throughput",
        "20.0 msg/s",
        "61.0 msg/s",
        "3.05x",
        ">= 3.00x stock",
        "yes",
    ]
    assert rows["1 user: p95"][3:] == ["1.00x", "<= 1.00x stock", "yes"]  # equal is within target
    assert rows["one conversation: messages 181-200 / 1-20"][1:] == [
        "1.03x",
        "1.18x",
        "-",
        "this bot <= 1.20x",
        "yes",
    ]
    assert rows["20 users: p50"][4:] == ["-", "-"]  # context, no target
    targeted = [row for row in rows.values() if row[4] != "-"]
    assert len(targeted) == 7
    assert all(row[5] == "yes" for row in targeted)


def test_each_missed_target_says_no():
    stock = figures(55, 90, 20.0, 700, 60, 62, 1150)
    this_bot = figures(56, 91, 59.0, 701, 40, 49, 1151, errors=1)
    missed = [row[0] for row in bench.comparison_rows(this_bot, stock) if row[5] == "**no**"]
    assert missed == [
        "1 user: p50",
        "1 user: p95",
        "20 users: throughput",
        "20 users: p95",
        "one conversation: messages 181-200 / 1-20",
        "Rasa server RSS after the load",
        "errors (non-200 replies), all of the above",
    ]


def test_without_stock_only_this_bots_own_targets_are_judged():
    rows = verdicts(figures(50, 90, 61.0, 650, 40, 47, 900), None)
    assert rows["1 user: p50"][1:] == ["not measured", "50 ms", "-", "<= 1.00x stock", "-"]
    assert rows["one conversation: messages 181-200 / 1-20"][5] == "yes"
    table = bench.comparison_table(figures(50, 90, 61.0, 650, 40, 47, 900), None, 100, "this bot = x")
    assert "stock not measured (`--skip-stock`)" in table[0]
    assert "one conversation of 200 messages from one sender (its first 20 questions" in table[0]
    assert table[2] == "| measure | stock | this bot | ratio | target | met? |"


def test_flags():
    args = bench.parse_arguments(["--dry-run", "--skip-stock", "--requests", "20", "--long-messages", "30"])
    assert (args.dry_run, args.skip_stock, args.skip_training) == (True, True, False)
    assert (args.requests, args.long_messages) == (20, 30)
    defaults = bench.parse_arguments([])
    assert (defaults.dry_run, defaults.skip_stock, defaults.requests, defaults.long_messages) == (
        False,
        False,
        100,
        200,
    )
    with pytest.raises(SystemExit):
        bench.parse_arguments(["--long-messages", "1"])


def test_stock_messages_are_its_own_training_examples_taking_turns_by_intent():
    # The stock project rasa init copies (rasa/cli/initial_project), read as the bench reads it.
    from rasa.cli.scaffold import scaffold_path

    questions = bench_stock.stock_questions(Path(scaffold_path()))
    assert questions[:7] == ["hey", "cu", "yes", "no", "perfect", "my day was horrible", "are you a bot?"]
    assert questions[7] == "hello"  # the second example of the first intent comes next
    assert len(questions) == len(set(questions)) > 50


def test_a_cached_stock_bot_with_a_model_is_reused(tmp_path):
    bot_dir = bench_stock.stock_dir("9.9.9", tmp_path)
    assert bot_dir == tmp_path / "stock-9.9.9"
    (bot_dir / "models").mkdir(parents=True)
    assert bench_stock.stock_model(bot_dir) is None  # would be rebuilt
    older, newer = bot_dir / "models" / "a.tar.gz", bot_dir / "models" / "b.tar.gz"
    older.write_bytes(b"")
    newer.write_bytes(b"")
    os.utime(older, (1, 1))
    # No `rasa init` runs (it would take minutes and fail on this fake version's cache path).
    assert bench_stock.ensure_stock_bot("9.9.9", tmp_path) == (bot_dir, newer)


def test_stop_ends_the_whole_process_group_even_when_terminate_is_ignored(tmp_path):
    # A child that ignores SIGTERM and has a child of its own, like a server that hangs on exit.
    process = bench_stock.spawn(
        ["bash", "-c", "trap '' TERM; sleep 300 & echo $! > grandchild; wait"],
        cwd=tmp_path,
        log=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not (tmp_path / "grandchild").exists() or not (tmp_path / "grandchild").read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    grandchild = int((tmp_path / "grandchild").read_text())
    started = time.monotonic()
    bench_stock.stop(process, timeout=1)
    assert time.monotonic() - started < 5
    assert process.returncode is not None
    assert not _running(grandchild)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a killed grandchild may linger as a zombie until init reaps it


def test_the_cluster_table_compares_two_replicas_with_one_and_with_stock():
    def load(per_second):
        return {"per_second": per_second, "p50_ms": 100.0, "p95_ms": 300.0, "errors": 0}

    lines = bench.cluster_table(
        {**load(60.0), "rss_mb": 1800.0}, {"many_users": load(30.0)}, {"many_users": load(20.0)}
    )
    rows = [line for line in lines if line.startswith("| ") and "messages/s" not in line]
    assert rows[0].endswith("| 0.67x | 1.00x |")  # stock vs this bot's one replica, and vs itself
    assert rows[2].endswith("| 2.00x | 3.00x |")
    assert "1800 MB" in rows[3]
    assert (
        "not measured"
        in bench.cluster_table({**load(60.0), "rss_mb": 1.0}, {"many_users": load(30.0)}, None)[4]
    )
