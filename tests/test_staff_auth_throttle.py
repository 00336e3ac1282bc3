"""The login throttle on the real databases (SQLite file, PostgreSQL): at most MAX_FAILURES password
checks per client in the window, with many threads in several processes at once.

Each process has its own engine and connections, as the bot's workers and the staff CLI do; the
only thing they share is the database. Password checks are counted by wrapping the real
verify_password (it still runs scrypt).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import List, Tuple

import pytest
from sqlalchemy import func, select

from bot.database import create_database_engine
from bot.staff import accounts
from bot.staff.accounts import FAILURE_WINDOW, MAX_FAILURES, StaffAuth, hash_password, login_failures

PROCESSES, THREADS_PER_PROCESS = 4, 10
CLIENT = "203.0.113.9"
PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def stored_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'clinic.db'}"
    return request.getfixturevalue("postgres_url")  # a throw-away database, or a skip with the reason


@pytest.fixture
def auth(database_url, stored_hash) -> StaffAuth:
    auth = StaffAuth(create_database_engine(database_url), {"dana": stored_hash})
    yield auth
    auth._engine.dispose()


def wrong_passwords_in_a_process(url: str, stored: str, start, results) -> None:
    """Runs in a child process: THREADS_PER_PROCESS wrong passwords at once from one client."""
    calls: List[str] = []
    real = accounts.verify_password

    def counted(password: str, stored_hash: str) -> bool:
        calls.append(password)
        return real(password, stored_hash)

    accounts.verify_password = counted  # this process's own module: nothing to restore
    auth = StaffAuth(create_database_engine(url), {"dana": stored})
    start.wait(timeout=60)  # every process starts its attempts together
    with ThreadPoolExecutor(THREADS_PER_PROCESS) as pool:
        outcomes = list(
            pool.map(lambda n: auth.log_in("dana", f"wrong-{n}", CLIENT), range(THREADS_PER_PROCESS))
        )
    auth._engine.dispose()
    results.put((len(calls), sum(o.locked_out for o in outcomes), sum(o.token is not None for o in outcomes)))


def test_40_parallel_attempts_from_4_processes_get_exactly_5_checks(auth, database_url, stored_hash):
    context = multiprocessing.get_context("spawn")  # fresh interpreters, like separate workers
    start, results = context.Barrier(PROCESSES), context.Queue()
    processes = [
        context.Process(target=wrong_passwords_in_a_process, args=(database_url, stored_hash, start, results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    try:
        per_process: List[Tuple[int, int, int]] = [results.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
    checks, locked_out, logged_in = (sum(column) for column in zip(*per_process, strict=True))
    assert checks == MAX_FAILURES, per_process
    attempts = PROCESSES * THREADS_PER_PROCESS
    # Refused unchecked, plus the check that used the last slot.
    assert (locked_out, logged_in) == (attempts - MAX_FAILURES + 1, 0), per_process
    with auth._engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(login_failures)).scalar() == MAX_FAILURES
    assert auth.throttled(CLIENT)


def test_a_success_gives_its_check_back_and_the_fifth_failure_locks_out(auth, verifications):
    checks = verifications
    for _ in range(MAX_FAILURES - 1):
        assert auth.log_in("dana", "nope", CLIENT) == accounts.LoginResult(None, locked_out=False)
    assert auth.log_in("dana", PASSWORD, CLIENT).token  # does not count as a failure
    last = auth.log_in("dana", "nope", CLIENT)
    assert last.token is None and last.locked_out  # the fifth failure: told at once
    refused = auth.log_in("dana", PASSWORD, CLIENT)
    assert refused.token is None and refused.locked_out
    assert len(checks) == MAX_FAILURES + 1  # the refused attempt was never checked
    assert not auth.throttled("198.51.100.7")  # other clients are not affected
    assert auth.log_in("dana", PASSWORD, "198.51.100.7").token


def test_failures_older_than_the_window_no_longer_count(auth, monkeypatch):
    for _ in range(MAX_FAILURES):
        auth.log_in("dana", "nope", CLIENT)
    assert auth.log_in("dana", PASSWORD, CLIENT).locked_out
    later = accounts._now() + FAILURE_WINDOW + timedelta(seconds=1)
    monkeypatch.setattr(accounts, "_now", lambda: later)
    assert not auth.throttled(CLIENT)
    assert auth.log_in("dana", PASSWORD, CLIENT).token
    with auth._engine.connect() as connection:  # the success swept the stale rows away
        assert connection.execute(select(func.count()).select_from(login_failures)).scalar() == 0
