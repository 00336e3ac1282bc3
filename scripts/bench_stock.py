"""The stock Rasa bot that `make bench` measures this bot against (issue 12).

"Stock" is what `rasa init --no-prompt` makes with the same Rasa as this project's venv: its example
data, its default config, an in-memory tracker store and no action server (endpoints.yml as
`rasa init` writes it). It is built once (`rasa init` trains its model) and cached in
var/bench/stock-<rasa version>/, then served by `rasa run` on a loopback port for the measurements.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.launcher import answers  # noqa: E402

CACHE_ROOT = ROOT / "var" / "bench"
# Quieter TensorFlow; no usage telemetry from the stock bot either.
STOCK_ENV = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
# The field notes measured about 75 s of training and 40 s to ready; a busy shared machine is slower.
BUILD_TIMEOUT_SECONDS = 1800
READY_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 20
SETUP_NOTE = (
    "stock = `rasa init --no-prompt` as it comes: its example data and default config, in-memory "
    "tracker store and lock store, no action server, one Sanic worker (`rasa run`)"
)


class StockBotFailed(RuntimeError):
    """The stock bot could not be built or did not start."""


def rasa_version() -> str:
    return installed_version("rasa")


def venv_rasa() -> Path:
    """The `rasa` command of the venv running this script, so both bots use the same Rasa."""
    command = Path(sys.executable).parent / "rasa"  # not resolved: the venv's bin, not pyenv's
    if not command.exists():
        raise StockBotFailed(f"No `rasa` command next to {sys.executable}")
    return command


def stock_dir(version: str, cache_root: Path = CACHE_ROOT) -> Path:
    return cache_root / f"stock-{version}"


def stock_model(bot_dir: Path) -> Optional[Path]:
    """The newest trained model of a stock bot directory, None if it has none."""
    models = sorted((bot_dir / "models").glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    return models[-1] if models else None


def ensure_stock_bot(version: str, cache_root: Path = CACHE_ROOT) -> tuple[Path, Path]:
    """The cached stock bot (its directory and model), built first if missing or without a model.

    `rasa init` runs in a scratch directory renamed into place only after it trained, so an
    interrupted build never looks like a finished one.
    """
    bot_dir = stock_dir(version, cache_root)
    model = stock_model(bot_dir) if bot_dir.is_dir() else None
    if model is not None:
        return bot_dir, model
    cache_root.mkdir(parents=True, exist_ok=True)
    scratch = cache_root / f"{bot_dir.name}.building-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    log_path = cache_root / f"{bot_dir.name}-init.log"
    print(
        f"Building the stock bot with `rasa init --no-prompt` (trains a model; log: {log_path})...",
        flush=True,
    )
    try:
        command = [str(venv_rasa()), "init", "--no-prompt", "--init-dir", str(scratch)]
        with open(log_path, "wb") as log:
            process = spawn(command, cwd=scratch, log=log)
        try:
            code = process.wait(timeout=BUILD_TIMEOUT_SECONDS)
        except BaseException:
            stop(process)
            raise
        if code != 0 or stock_model(scratch) is None:
            raise StockBotFailed(f"`rasa init` failed (exit code {code}); see {log_path}")
        shutil.rmtree(bot_dir, ignore_errors=True)
        scratch.rename(bot_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return bot_dir, stock_model(bot_dir)


def stock_questions(bot_dir: Path) -> list[str]:
    """The stock bot's own training examples (its data/nlu.yml), one intent after another in turn
    (greet, goodbye, affirm, ... greet again) so a conversation mixes them like a user would."""
    nlu = yaml.safe_load((bot_dir / "data" / "nlu.yml").read_text(encoding="utf-8"))["nlu"]
    by_intent = [
        [line[2:].strip() for line in item["examples"].splitlines() if line.startswith("- ")]
        for item in nlu
        if "intent" in item
    ]
    questions = []
    for turn in range(max(len(examples) for examples in by_intent)):
        questions += [examples[turn] for examples in by_intent if turn < len(examples)]
    return questions


class StockServer:
    """`rasa run` of the stock bot on a loopback port, as a context manager: ready on enter
    (GET / answers 200, which Rasa only does once the model is loaded), stopped on exit."""

    def __init__(self, bot_dir: Path, model: Path, port: int, log_path: Path) -> None:
        self.bot_dir, self.model, self.port, self.log_path = bot_dir, model, port, log_path
        self._process: Optional[subprocess.Popen] = None

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def rest_url(self) -> str:
        return f"{self.root_url}webhooks/rest/webhook"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise StockBotFailed("The stock bot is not running")
        return self._process.pid

    def __enter__(self) -> StockServer:
        command = [str(venv_rasa()), "run", "--port", str(self.port), "--interface", "127.0.0.1"]
        command += ["--model", str(self.model)]
        with open(self.log_path, "wb") as log:
            self._process = spawn(command, cwd=self.bot_dir, log=log)
        try:
            self._wait_until_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            stop(self._process)
            self._process = None

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not answers(self.root_url):
            if _exited(self._process):
                raise StockBotFailed(f"The stock bot exited before it was ready; see {self.log_path}")
            if time.monotonic() > deadline:
                raise StockBotFailed(f"The stock bot was not ready after {READY_TIMEOUT_SECONDS} s")
            time.sleep(0.5)


def spawn(command: list[str], cwd: Path, log) -> subprocess.Popen:
    """A child in its own process group (stopped as a group) that the kernel kills if this
    script dies without cleaning up (SIGKILL, crash): no stock server outlives the benchmark."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, **STOCK_ENV},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def stop(process: subprocess.Popen, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Terminate the child's process group, then kill what is left of it after `timeout`."""
    _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while not _exited(process) and time.monotonic() < deadline:
        time.sleep(0.1)
    # Also after a clean exit: anything the child started in its group goes too. The child is
    # not reaped yet (a zombie keeps its group id), so the signal cannot reach a stranger.
    _signal_group(process, signal.SIGKILL)
    process.wait()


def _exited(process: subprocess.Popen) -> bool:
    """Whether the child has exited, without reaping it (poll() would)."""
    if process.returncode is not None:
        return True
    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    if process.returncode is not None:
        return  # reaped: its group id may belong to someone else by now
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)  # start_new_session: the group id is the child's pid


def _die_with_parent() -> None:
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
