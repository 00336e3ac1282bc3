"""Starts the action server and the Rasa server together, restarts either if it crashes, and
stops both on one Ctrl-C.

A crashed server is restarted with backoff (1 s, 2 s, 4 s ... up to a minute) instead of taking
the other down: while the action server is away, the Rasa server still answers FAQs and
emergencies, and `/health` says "degraded".

Also used by the end-to-end tests and the benchmark, which start the real servers on free
loopback ports (`Servers` is a context manager).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Optional

from bot import PROJECT_ROOT
from bot.privacy.files import ensure_private_file
from bot.settings import OPTIONAL_CHANNEL_VARIABLES, RuntimeSettings, load_runtime_settings

logger = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 20
FIRST_RESTART_DELAY_SECONDS = 1.0
MAX_RESTART_DELAY_SECONDS = 60.0
# A process that ran this long before crashing is restarted after the first delay again.
STABLE_AFTER_SECONDS = 120.0


class ServerFailed(RuntimeError):
    """A server exited or did not become ready in time."""


class Servers:
    """The action server and the Rasa server as child processes."""

    def __init__(self, settings: RuntimeSettings, log_dir: Optional[Path] = None) -> None:
        self.settings = settings
        self._log_dir = log_dir
        self._processes: dict[str, subprocess.Popen] = {}
        self._commands: dict[str, list[str]] = {}
        self._environments: dict[str, dict[str, str]] = {}
        self._started_at: dict[str, float] = {}
        self._restart_delay: dict[str, float] = {}
        self._restart_due: dict[str, float] = {}
        self.restarts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._supervising: Optional[threading.Event] = None

    @property
    def demo_url(self) -> str:
        return f"http://{self._client_host(self.settings.bot_host)}:{self.settings.bot_port}/"

    @property
    def rest_url(self) -> str:
        return f"http://{self._client_host(self.settings.bot_host)}:{self.settings.bot_port}/webhooks/rest/webhook"

    def start(self) -> None:
        if not self.settings.model_path.exists():
            raise ServerFailed(f"No trained model at {self.settings.model_path}; run `make train` first.")
        self.settings.tracker_db.parent.mkdir(parents=True, exist_ok=True)
        self.start_action_server()
        # bot.server builds Rasa's app itself: the JWT secret stays out of argv (visible in `ps`).
        self._spawn("rasa", [sys.executable, "-m", "bot.server"], self.environment())

    def start_action_server(self) -> None:
        self._spawn("actions", [sys.executable, "-m", "bot.action_server"], self.environment())

    def environment(self) -> dict[str, str]:
        """The child processes' environment: ours plus the settings endpoints.yml expands."""
        return {
            # credentials.yml names these; Rasa refuses an unset ${VAR}, and "" turns a channel off.
            **{name: "" for name in OPTIONAL_CHANNEL_VARIABLES},
            **os.environ,
            **self.settings.rasa_environment(),
            "PYTHONPATH": str(PROJECT_ROOT),
            "BOT_HOST": self.settings.bot_host,
            "BOT_PORT": str(self.settings.bot_port),
            "LOG_LEVEL": self.settings.log_level,
        }

    def ready_checks(self) -> dict[str, str]:
        """A URL per server that answers 200 once it is ready."""
        host = self._client_host(self.settings.action_host)
        return {
            "actions": f"http://{host}:{self.settings.action_port}/health",
            "rasa": f"http://{self._client_host(self.settings.bot_host)}:{self.settings.bot_port}/webhooks/rest/",
        }

    def wait_until_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Blocks until every server answers; returns the seconds it took."""
        started = time.monotonic()
        pending = self.ready_checks()
        while pending:
            for name, process in self._processes.items():
                if process.poll() is not None:
                    raise ServerFailed(
                        f"The {name} server exited with code {process.returncode} (logs: {self._log_dir})."
                    )
            for name, url in list(pending.items()):
                if answers(url):
                    del pending[name]
            if time.monotonic() - started > timeout:
                raise ServerFailed(f"Not ready after {timeout:.0f} s: {', '.join(pending)}")
            time.sleep(0.5)
        return time.monotonic() - started

    def supervise(self, now: Optional[float] = None) -> list[str]:
        """Restarts servers that stopped on their own, each after its backoff delay; returns the
        names restarted by this call. Call it regularly (run_forever, supervise_in_background)."""
        now = time.monotonic() if now is None else now
        restarted = []
        with self._lock:
            for name, process in list(self._processes.items()):
                if process.poll() is None:
                    continue
                if name not in self._restart_due:
                    ran_for = now - self._started_at.get(name, now)
                    delay = self._restart_delay.get(name, 0.0)
                    delay = (
                        FIRST_RESTART_DELAY_SECONDS if ran_for > STABLE_AFTER_SECONDS or not delay else delay
                    )
                    self._restart_due[name] = now + delay
                    self._restart_delay[name] = min(delay * 2, MAX_RESTART_DELAY_SECONDS)
                    logger.warning(
                        "The %s server exited with code %s; restarting in %.0f s.",
                        name,
                        process.returncode,
                        delay,
                    )
                if now >= self._restart_due[name]:
                    del self._restart_due[name]
                    self._spawn(name, self._commands[name], self._environments[name])
                    self._started_at[name] = now
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    restarted.append(name)
        return restarted

    def supervise_until(self, stopping: threading.Event, interval: float = 0.5) -> None:
        """Supervision in the foreground (make run, make cluster), saying what was restarted."""
        while not stopping.wait(interval):
            for name in self.supervise():
                print(f"Restarted the {name} server after it stopped unexpectedly.", flush=True)

    def supervise_in_background(self, interval: float = 0.5) -> None:
        """Supervision on a daemon thread (tests); stop() ends it."""
        stopping = self._supervising = threading.Event()

        def loop() -> None:
            while not stopping.wait(interval):
                self.supervise()

        threading.Thread(target=loop, name="supervisor", daemon=True).start()

    def stop(self) -> None:
        if self._supervising is not None:
            self._supervising.set()
        with self._lock:
            self._stop_processes()

    def _stop_processes(self) -> None:
        for process in self._processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in self._processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()

    def pid(self, name: str) -> int:
        return self._processes[name].pid

    def __enter__(self) -> "Servers":
        self.start()
        try:
            self.wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self._commands[name] = command
        self._environments[name] = env
        self._started_at[name] = time.monotonic()
        output = None
        if self._log_dir is not None:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            # Owner-only, like everything the servers write; the child keeps its own copy.
            output = open(ensure_private_file(self._log_dir / f"{name}.log"), "ab")  # noqa: SIM115
        try:
            self._processes[name] = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                # Databases, spool and logs hold health messages and contact details: owner only.
                umask=0o077,
            )
        finally:
            if output is not None:
                output.close()

    @staticmethod
    def _client_host(host: str) -> str:
        return "127.0.0.1" if host in ("0.0.0.0", "") else host


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop_on_signals() -> threading.Event:
    """Ctrl-C and SIGTERM set the returned event instead of ending the process at once, so the
    caller's `finally` stops every child server."""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    return stopping


def run_forever(settings: Optional[RuntimeSettings] = None) -> int:
    """`make run`: start both servers, say where to talk to the bot, stop both on Ctrl-C."""
    settings = settings or load_runtime_settings()
    servers = Servers(settings)
    stopping = stop_on_signals()
    print(
        f"Starting the action server (port {settings.action_port}) and the Rasa server (port {settings.bot_port})...",
        flush=True,
    )
    servers.start()
    try:
        seconds = servers.wait_until_ready()
        print(
            f"\nThe assistant is ready ({seconds:.0f} s).\n"
            f"  chat in your browser: {servers.demo_url}\n"
            f"  staff console: {servers.demo_url}staff/ (logins from STAFF_ACCOUNTS; see README)\n"
            f"  REST channel: POST {servers.rest_url}\n"
            f"  try: curl -s -X POST {servers.rest_url} -H 'Content-Type: application/json' "
            '-d \'{"sender": "me", "message": "What is PRP?"}\'\n'
            f"  health: {servers.demo_url}health\n"
            f"  conversations are kept in {settings.tracker_db}\n"
            "A server that crashes is restarted. Press Ctrl-C to stop both servers.\n",
            flush=True,
        )
        servers.supervise_until(stopping)
        print("Stopping...", flush=True)
        return 0
    except ServerFailed as failure:
        print(f"Could not start: {failure}", flush=True)
        return 1
    finally:
        servers.stop()


def settings_with_ports(bot_port: int, action_port: int, tracker_db: Path) -> RuntimeSettings:
    """Runtime settings for a private pair of servers (tests, benchmarks)."""
    return replace(
        load_runtime_settings(),
        bot_host="127.0.0.1",
        bot_port=bot_port,
        action_host="127.0.0.1",
        action_port=action_port,
        tracker_db=tracker_db,
    )
