"""Where the training files staff edit live: STAFF_WORKSPACE (a folder laid out like the project:
data/, domain.yml, bot/topics.yml; tests or a staging copy), else the project itself."""

from __future__ import annotations

import os
from pathlib import Path

from bot import PROJECT_ROOT


def workspace_root() -> Path:
    return Path(os.environ.get("STAFF_WORKSPACE") or PROJECT_ROOT)
