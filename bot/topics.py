"""The FAQ topic catalogue (bot/topics.yml): a title and a canonical question per topic, in English
and (`title_es`, `question_es`) Spanish.

The file is re-read whenever it changes on disk (like clinic.yml in bot/clinic.py), so a topic
staff add and promote gets its "did you mean" button without restarting the action server.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import yaml

from bot.workspace import workspace_root

logger = logging.getLogger(__name__)

TOPICS_PATH = Path(__file__).with_name("topics.yml")


# Topics after which a patient is likely ready to talk to the clinic: the answer is followed by
# clinic details (location, cost) and an offer to book a visit (bot/faq_turn_policy.py,
# actions/faq_followup.py).
OFFER_BOOKING_AFTER = frozenset(
    {
        "relief_treatment",
        "candidacy",
        "cost_insurance",
        "clinic_location",
        "recovery_downtime",
        "questions_for_doctor",
    }
)


@dataclass(frozen=True)
class Topic:
    name: str
    title: str
    question: str
    title_es: Optional[str] = None
    question_es: Optional[str] = None

    def title_in(self, language: str) -> str:
        """The button title in the reply language (English where no Spanish pair is written yet)."""
        return self.title_es if self._spanish(language) else self.title

    def question_in(self, language: str) -> str:
        """The question the button sends, in the same language as its title (an English question
        sent from a Spanish conversation could switch its language)."""
        return self.question_es if self._spanish(language) else self.question

    def _spanish(self, language: str) -> bool:
        return language == "es" and bool(self.title_es and self.question_es)


def topics_path() -> Path:
    """The catalogue staff edit (bot/staff/training_data.py writes new topics there)."""
    return workspace_root() / "bot" / "topics.yml"


def parse_topics(text: str) -> Dict[str, Topic]:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("topics.yml must map topic names to a title and a question")
    return {
        name: Topic(
            name,
            spec["title"],
            spec["question"],
            _optional_text(spec.get("title_es")),
            _optional_text(spec.get("question_es")),
        )
        for name, spec in data.items()
    }


def _optional_text(value: object) -> Optional[str]:
    text = str(value).strip() if value is not None else ""
    return text or None


class _TopicsCache:
    """Keeps the parsed file and reloads it when its path, modification time or size change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Optional[Tuple[str, int, int]] = None
        self._topics: Dict[str, Topic] = {}

    def get(self, path: Path) -> Dict[str, Topic]:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key != self._key:
                try:
                    topics = parse_topics(path.read_text(encoding="utf-8"))
                except (ValueError, KeyError, TypeError, yaml.YAMLError):
                    # Caught mid-write (staff tools rewrite the file in place): keep the last good
                    # catalogue and read again next time; with none yet, there is nothing to keep.
                    if self._key is None or self._key[0] != key[0]:
                        raise
                    logger.warning("%s could not be read; using the topics loaded before.", path)
                    return self._topics
                self._topics, self._key = topics, key
            return self._topics


_cache = _TopicsCache()


def load_topics(path: Optional[Path] = None) -> Dict[str, Topic]:
    """The current topics (cached; re-read when the file changes). `path`: another catalogue."""
    return _cache.get(path or topics_path())
