"""Cross-validates the live pipeline (config.yml) against the variants in scripts/pipelines/.

Runs `rasa test nlu --cross-validation` for each and prints a Markdown table of intent and FAQ
topic (response selection) scores, for docs/decisions.md.
Usage: python scripts/crossval.py [--folds 5] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "results" / "crossval"


def candidates() -> dict[str, Path]:
    found = {"live (config.yml)": ROOT / "config.yml"}
    found.update({path.stem: path for path in sorted((ROOT / "scripts" / "pipelines").glob("*.yml"))})
    return found


def run(name: str, config: Path, folds: int) -> dict:
    out = OUT / name.split()[0]
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "rasa", "test", "nlu", "--nlu", "data/nlu.yml", "--config", str(config),
         "--cross-validation", "--folds", str(folds), "--out", str(out)],
        cwd=ROOT, check=True,
    )  # fmt: skip
    seconds = time.monotonic() - started
    intent = json.loads((out / "intent_report.json").read_text())
    topics = json.loads((out / "response_selection_report.json").read_text())
    return {
        "name": name,
        "intent_accuracy": intent["accuracy"],
        "intent_f1": intent["weighted avg"]["f1-score"],
        "topic_accuracy": topics["accuracy"],
        "topic_f1": topics["weighted avg"]["f1-score"],
        "emergency_recall": intent.get("emergency", {}).get("recall", float("nan")),
        "oos_recall": intent.get("out_of_scope", {}).get("recall", float("nan")),
        "minutes": seconds / 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    rows = [
        run(name, path, args.folds)
        for name, path in candidates().items()
        if not args.only or name.split()[0] in args.only
    ]
    print(f"\n{args.folds}-fold cross-validation on data/nlu.yml (test-set scores, weighted averages)\n")
    print(
        "| pipeline | intent acc | intent F1 | FAQ topic acc | FAQ topic F1 | emergency recall | out-of-scope recall | minutes |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['name']} | {r['intent_accuracy']:.3f} | {r['intent_f1']:.3f} | {r['topic_accuracy']:.3f} | {r['topic_f1']:.3f} | {r['emergency_recall']:.3f} | {r['oos_recall']:.3f} | {r['minutes']:.1f} |"
        )


if __name__ == "__main__":
    main()
