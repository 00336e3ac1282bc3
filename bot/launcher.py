"""Starts the action server and the Rasa server together; one Ctrl-C stops both.

Also used by the end-to-end tests and the benchmark, which start the real servers on free
loopback ports (`Servers` is a context manager).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Optional

from bot import PROJECT_ROOT
from bot.settings import RuntimeSettings, load_runtime_settings

logger = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 300
OPTIONAL_CHANNEL_VARIABLES = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_SMS_NUMBER",
    "TWILIO_WHATSAPP_NUMBER",
    "PUBLIC_BASE_URL",
)
STOP_TIMEOUT_SECONDS = 20


class ServerFailed(RuntimeError):
    """A server exited or did not become ready in time."""


class Servers:
    """The action server and the Rasa server as child processes."""

    def __init__(self, settings: RuntimeSettings, log_dir: Optional[Path] = None) -> None:
        self.settings = settings
        self._log_dir = log_dir
        self._processes: dict[str, subprocess.Popen] = {}

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
        rasa_command = [
            sys.executable, "-m", "rasa", "run",
            "--model", str(self.settings.model_path),
            "--endpoints", str(PROJECT_ROOT / "endpoints.yml"),
            "--credentials", str(PROJECT_ROOT / "credentials.yml"),
            "--interface", self.settings.bot_host,
            "--port", str(self.settings.bot_port),
            # The HTTP API, for the staff tools' model swap (PUT /model); every call needs a JWT
            # signed with api_secret (a Bearer header: --auth-token would land in access logs).
            "--enable-api", "--jwt-secret", self.settings.api_secret, "--jwt-method", "HS256",
        ]  # fmt: skip
        if self.settings.cors_origins:
            rasa_command += ["--cors", *self.settings.cors_origins]
        self._spawn("rasa", rasa_command, self.environment())

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

    def wait_until_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Blocks until both servers answer; returns the seconds it took."""
        started = time.monotonic()
        host = self._client_host(self.settings.action_host)
        checks = {
            "actions": f"http://{host}:{self.settings.action_port}/health",
            "rasa": f"http://{self._client_host(self.settings.bot_host)}:{self.settings.bot_port}/webhooks/rest/",
        }
        pending = dict(checks)
        while pending:
            for name, process in self._processes.items():
                if process.poll() is not None:
                    raise ServerFailed(f"The {name} server exited with code {process.returncode}.")
            for name, url in list(pending.items()):
                if _answers(url):
                    del pending[name]
            if time.monotonic() - started > timeout:
                raise ServerFailed(f"Not ready after {timeout:.0f} s: {', '.join(pending)}")
            time.sleep(0.5)
        return time.monotonic() - started

    def exited(self) -> Optional[str]:
        """The name of a server that has stopped on its own, if any."""
        for name, process in self._processes.items():
            if process.poll() is not None:
                return name
        return None

    def stop(self) -> None:
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
        output = None
        if self._log_dir is not None:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            output = open(self._log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self._processes[name] = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )

    @staticmethod
    def _client_host(host: str) -> str:
        return "127.0.0.1" if host in ("0.0.0.0", "") else host


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def run_forever(settings: Optional[RuntimeSettings] = None) -> int:
    """`make run`: start both servers, say where to talk to the bot, stop both on Ctrl-C."""
    settings = settings or load_runtime_settings()
    servers = Servers(settings)
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
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
            f"  conversations are kept in {settings.tracker_db}\n"
            "Press Ctrl-C to stop both servers.\n",
            flush=True,
        )
        while not stopping:
            crashed = servers.exited()
            if crashed:
                print(
                    f"The {crashed} server stopped unexpectedly; stopping the other one.",
                    flush=True,
                )
                return 1
            time.sleep(0.5)
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
