"""NLU report on the held-out and blind sets: what a patient would get, per set.

Usage: python scripts/evaluate.py [--model models/facet-assistant.tar.gz] [--misses]
Prints a Markdown table (copied into docs/performance.md) and, with --misses, every wrong answer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.evaluation import score  # noqa: E402

SETS = {
    "held-out (gated)": ROOT / "tests" / "nlu_heldout.yml",
    "blind (report only)": ROOT / "tests" / "nlu_blind.yml",
    "real-style blind (gated)": ROOT / "tests" / "nlu_realstyle_blind.yml",
    "Spanish held-out (gated)": ROOT / "tests" / "nlu_es_heldout.yml",
    "Spanish blind (gated)": ROOT / "tests" / "nlu_es_blind.yml",
    "emergency regression": ROOT / "tests" / "emergency_cases.yml",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(ROOT / "models" / "facet-assistant.tar.gz"))
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    from rasa.core.agent import Agent

    agent = Agent.load(args.model)
    results = {name: score(agent, path) for name, path in SETS.items()}
    from actions.clarify import choices_for

    print(
        "\n| set | messages | intent+topic accuracy | in-scope accuracy | emergency recall | out-of-scope declined | fallback rate | FAQ questions unsure | of them dead ends |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, s in results.items():
        dead_ends = sum(not choices_for(parsed) for parsed in s.unsure_faq_parses)
        print(
            f"| {name} | {len(s.rows)} | {s.accuracy:.3f} | {s.in_scope_accuracy:.3f} | {s.emergency_recall:.3f} | {s.out_of_scope_declined:.3f} | {s.fallback_rate:.3f} | {len(s.unsure_faq_parses)} | {dead_ends} |"
        )
    for name, s in results.items():
        print(f"\n{name}: most common confusions {s.common_confusions()}")
        if args.misses:
            for text, expected, predicted in s.misses():
                print(f"  {expected:30} -> {predicted:30} | {text}")


if __name__ == "__main__":
    main()
