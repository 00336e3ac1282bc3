"""The launcher's supervision: a crashed server is restarted with backoff, not the end of both.

Real child processes that exit at once stand in for a crashing server; `supervise(now=...)` is
driven with explicit times, so nothing here depends on the machine's speed.
"""

from __future__ import annotations

import sys
import time

from bot.launcher import FIRST_RESTART_DELAY_SECONDS, MAX_RESTART_DELAY_SECONDS, Servers, settings_with_ports
from tests.conftest import free_port

CRASH = [sys.executable, "-c", "raise SystemExit(3)"]
STAY = [sys.executable, "-c", "import time; time.sleep(60)"]


def wait_exit(servers: Servers, name: str) -> None:
    servers._processes[name].wait(timeout=30)


def test_a_crashed_server_is_restarted_with_growing_delays(tmp_path):
    servers = Servers(settings_with_ports(free_port(), free_port(), tmp_path / "tracker.db"))
    try:
        servers._spawn("actions", CRASH, {})
        servers._spawn("rasa", STAY, {})
        rasa_pid = servers.pid("rasa")
        now = time.monotonic()
        delays = []
        for _ in range(8):
            wait_exit(servers, "actions")
            assert servers.supervise(now) == []  # noticed; waits for its delay first
            due = servers._restart_due["actions"]
            delays.append(round(due - now, 3))
            assert servers.supervise(due) == ["actions"]
            now = due
        assert delays[0] == FIRST_RESTART_DELAY_SECONDS
        assert delays == sorted(delays) and delays[-1] == MAX_RESTART_DELAY_SECONDS
        assert servers.restarts == {"actions": 8}
        assert servers.pid("rasa") == rasa_pid  # the other server was never touched
    finally:
        servers.stop()


def test_the_delay_starts_over_after_a_long_healthy_run(tmp_path):
    servers = Servers(settings_with_ports(free_port(), free_port(), tmp_path / "tracker.db"))
    try:
        servers._spawn("actions", CRASH, {})
        now = time.monotonic()
        for _ in range(4):
            wait_exit(servers, "actions")
            servers.supervise(now)
            now = servers._restart_due["actions"]
            servers.supervise(now)
        wait_exit(servers, "actions")
        servers.supervise(now + 3600)  # it had run for an hour before this crash
        assert servers._restart_due["actions"] - (now + 3600) == FIRST_RESTART_DELAY_SECONDS
    finally:
        servers.stop()
