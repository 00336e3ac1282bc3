"""The FAQ topic catalogue (bot/topics.yml): a title and a canonical question per topic."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict

import yaml

TOPICS_PATH = Path(__file__).with_name("topics.yml")


@dataclass(frozen=True)
class Topic:
    name: str
    title: str
    question: str


@lru_cache(maxsize=1)
def load_topics(path: Path = TOPICS_PATH) -> Dict[str, Topic]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {name: Topic(name, spec["title"], spec["question"]) for name, spec in data.items()}
