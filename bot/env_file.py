"""Loads `.env` from the project root, so "copy .env.example to .env" configures every process.

Variables already set in the environment win: a deployment's own settings are never overridden.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from dotenv import load_dotenv

from bot import PROJECT_ROOT


def load_env_file(path: Optional[Path] = None) -> bool:
    """Reads the file if it exists; True if it did."""
    return load_dotenv(path or PROJECT_ROOT / ".env", override=False)
