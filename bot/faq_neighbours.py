"""A second opinion on which FAQ topics a message may be about: its nearest training examples.

When the classifiers are unsure (`nlu_fallback`), their topic confidences say little: gibberish and
a real but oddly worded question ("Do injections for back pain work?") get the same spread of low
scores. Similarity to the patients' questions we trained on separates them: a real question shares
words or word pieces with some training examples; gibberish shares none. So "did you mean" is
offered when some topic is plausible by that measure, and "I didn't get that" only when none is.

TF-IDF over character n-grams within words (typos still share most pieces), cosine similarity,
scikit-learn (already installed with Rasa). The index covers every training file (English
data/nlu.yml, Spanish data/nlu_es.yml) and is rebuilt when one changes, so a staff label or new
topic counts without a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from bot.evaluation import load_nlu_examples
from bot.text_normal import normalise
from bot.workspace import workspace_root

FAQ_PREFIX = "faq/"
# Below this similarity, a topic is not plausible (measured: docs/performance.md, "Dead ends").
MIN_PLAUSIBLE_SIMILARITY = 0.35


@dataclass(frozen=True)
class TopicIndex:
    topics: List[str]
    vectorizer: object
    matrix: object

    @classmethod
    def build(cls, examples: Dict[str, List[str]]) -> "TopicIndex":
        from sklearn.feature_extraction.text import TfidfVectorizer

        pairs = [
            (label[len(FAQ_PREFIX) :], normalise(text))
            for label, texts in examples.items()
            if label.startswith(FAQ_PREFIX)
            for text in texts
        ]
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        matrix = vectorizer.fit_transform([text for _, text in pairs])
        return cls([topic for topic, _ in pairs], vectorizer, matrix)

    def plausible_topics(self, text: str, limit: int = 3) -> List[Tuple[str, float]]:
        """Topics whose closest example is similar enough, best first, with that similarity."""
        query = self.vectorizer.transform([normalise(text)])
        similarities = (self.matrix @ query.T).toarray().ravel()
        best: Dict[str, float] = {}
        for topic, similarity in zip(self.topics, similarities, strict=False):
            if similarity > best.get(topic, 0.0):
                best[topic] = float(similarity)
        ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
        return [(topic, score) for topic, score in ranked if score >= MIN_PLAUSIBLE_SIMILARITY][:limit]


class _IndexCache:
    """The index of the current training files, rebuilt when a modification time or size changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Optional[tuple] = None
        self._index: Optional[TopicIndex] = None

    def get(self, paths: Sequence[Path]) -> TopicIndex:
        stats = [(path, path.stat()) for path in paths]
        key = tuple((str(path), stat.st_mtime_ns, stat.st_size) for path, stat in stats)
        with self._lock:
            if key != self._key or self._index is None:
                self._index = TopicIndex.build(merged_examples(paths))
                self._key = key
            return self._index


def merged_examples(paths: Sequence[Path]) -> Dict[str, List[str]]:
    merged: Dict[str, List[str]] = {}
    for path in paths:
        for label, texts in load_nlu_examples(path).items():
            merged.setdefault(label, []).extend(texts)
    return merged


_cache = _IndexCache()


def training_files() -> List[Path]:
    return sorted((workspace_root() / "data").glob("nlu*.yml"))


def plausible_topics(text: str, limit: int = 3, path: Optional[Path] = None) -> List[Tuple[str, float]]:
    return _cache.get([path] if path else training_files()).plausible_topics(text, limit)
