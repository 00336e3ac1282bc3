"""Scoring NLU predictions the way patients experience them: the right answer or not.

Used by tests/test_nlu_heldout.py (the gate), scripts/evaluate.py (the report) and the staff
promotion gate (bot/staff/retrain.py). Nothing here knows which set or language it scores: any
Rasa NLU file works (tests/nlu_heldout.yml, tests/nlu_es_heldout.yml, tests/nlu_es_blind.yml...).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

DECLINED = {"out_of_scope", "nlu_fallback"}


def load_nlu_examples(path: Path) -> Dict[str, List[str]]:
    """{intent: [examples]} from a Rasa NLU YAML file (synonym, regex and lookup blocks skipped;
    a file with no examples yet gives {})."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    examples: Dict[str, List[str]] = {}
    for block in data.get("nlu") or []:
        if "intent" not in block:
            continue
        text = block.get("examples") or ""
        lines = [line.strip()[2:].strip() for line in text.splitlines() if line.strip()]
        examples.setdefault(block["intent"], []).extend(lines)
    return examples


def label_of(parsed: Dict[str, Any]) -> str:
    """'faq/<topic>' for FAQ answers, else the intent name (nlu_fallback included)."""
    intent = (parsed.get("intent") or {}).get("name")
    if intent == "faq":
        return parsed["response_selector"]["faq"]["response"]["intent_response_key"]
    return intent


@dataclass
class Scores:
    rows: List[Tuple[str, str, str]] = field(default_factory=list)  # (text, expected, predicted)
    # What NLU said about in-scope FAQ questions it was unsure of: what "did you mean" works from.
    unsure_faq_parses: List[Dict[str, Any]] = field(default_factory=list)

    def _subset(self, expected: str) -> List[Tuple[str, str, str]]:
        return [row for row in self.rows if row[1] == expected]

    @property
    def accuracy(self) -> float:
        return sum(e == p for _, e, p in self.rows) / len(self.rows)

    @property
    def in_scope_accuracy(self) -> float:
        rows = [r for r in self.rows if r[1] != "out_of_scope"]
        return sum(e == p for _, e, p in rows) / len(rows)

    @property
    def emergency_recall(self) -> float:
        rows = self._subset("emergency")
        return sum(p == "emergency" for _, _, p in rows) / len(rows) if rows else float("nan")

    @property
    def out_of_scope_declined(self) -> float:
        rows = self._subset("out_of_scope")
        return sum(p in DECLINED for _, _, p in rows) / len(rows) if rows else float("nan")

    @property
    def fallback_rate(self) -> float:
        return sum(p == "nlu_fallback" for _, _, p in self.rows) / len(self.rows)

    def misses(self) -> List[Tuple[str, str, str]]:
        return [row for row in self.rows if row[1] != row[2]]

    def common_confusions(self, n: int = 8) -> List[Tuple[Tuple[str, str], int]]:
        return Counter((e, p) for _, e, p in self.misses()).most_common(n)


def score(agent: Any, path: Path) -> Scores:
    """Parses every example of an NLU file with a loaded Rasa agent."""

    async def parse_all() -> Scores:
        scores = Scores()
        for expected, texts in load_nlu_examples(path).items():
            for text in texts:
                parsed = await agent.parse_message(text)
                predicted = label_of(parsed)
                scores.rows.append((text, expected, predicted))
                if predicted == "nlu_fallback" and expected.startswith("faq/"):
                    scores.unsure_faq_parses.append(parsed)
        return scores

    return asyncio.run(parse_all())
