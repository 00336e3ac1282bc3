"""The console's "retrain and check" job: `python -m bot staff retrain` in its own process, so the
bot keeps answering while a model trains; its output is the progress the console shows.

One job at a time (training two models at once would only make both slow); the log and the
process id live under var/staff/job/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bot import PROJECT_ROOT

JOB_DIR = PROJECT_ROOT / "var" / "staff" / "job"
PROGRESS_MARK = "» "  # lines for people start with it (bot/staff/cli.py); the rest is library noise


@dataclass(frozen=True)
class JobStatus:
    running: bool
    lines: list
    exit_code: Optional[int]

    @property
    def last_step(self) -> str:
        return self.lines[-1] if self.lines else ""


class RetrainJob:
    def __init__(self, job_dir: Path = JOB_DIR) -> None:
        self.job_dir = job_dir
        self._process: Optional[subprocess.Popen] = None

    @property
    def log(self) -> Path:
        return self.job_dir / "retrain.log"

    def start(self, by: str) -> bool:
        """False if a job is already running."""
        if self.status().running:
            return False
        self.job_dir.mkdir(parents=True, exist_ok=True)
        # STAFF_RETRAIN_CONFIG: another Rasa config for the candidate (the tests' few-epoch one).
        config = os.environ.get("STAFF_RETRAIN_CONFIG")
        extra = ["--config", config] if config else []
        with self.log.open("w", encoding="utf-8") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bot", "staff", "retrain", "--by", by, *extra],
                cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(PROJECT_ROOT)},
            )  # fmt: skip
        return True

    def status(self) -> JobStatus:
        lines = []
        if self.log.exists():
            text = self.log.read_text(encoding="utf-8", errors="replace")
            lines = [
                line[len(PROGRESS_MARK) :] for line in text.splitlines() if line.startswith(PROGRESS_MARK)
            ]
        if self._process is None:
            return JobStatus(False, lines, None)
        code = self._process.poll()
        return JobStatus(code is None, lines, code)
