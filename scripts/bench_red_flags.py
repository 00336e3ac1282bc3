"""Benchmark of the red-flag (emergency) detector alone: speed per message, and recall/false alarms.

No trained model and no servers: the offline spaCy pipeline (build/spacy, `make setup`) and the
rules. Prints markdown for docs/performance.md:
- speed: the Rasa path (`RedFlagMatcher.active_flags` on the doc SpacyNLP made, as the
  RedFlagDetector component runs it; and with the parse included) on typical patient messages
  (tests/nlu_heldout.yml + tests/nlu_blind.yml), then the channels' `red_flags_in` on 2,000-,
  200,000- and 1,000,000-character messages; median and p95 (nearest rank) per message;
- quality: emergencies caught and look-alikes flagged on tests/emergency_cases.yml and
  tests/emergency_dev.yml by the rules alone (the Rasa path, no classifier).
Numbers on a shared 2-core machine vary: compare runs, don't gate on them. Takes about 15 s.
Usage: python scripts/bench_red_flags.py [--runs 5] [--long-runs 3]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shlex
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# spaCy's thinc imports TensorFlow when it is installed (Rasa brings it): keep its start-up chatter out.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bot.evaluation import load_nlu_examples  # noqa: E402
from bot.nlu.red_flag_matcher import RedFlagMatcher, red_flags_in  # noqa: E402
from bot.nlu.spacy_pipeline import DEFAULT_OUTPUT  # noqa: E402

TESTS = ROOT / "tests"
TYPICAL_SETS = [TESTS / "nlu_heldout.yml", TESTS / "nlu_blind.yml"]
EMERGENCY_SETS = [TESTS / "emergency_cases.yml", TESTS / "emergency_dev.yml"]


def examples(path: Path) -> List[str]:
    return [text for texts in load_nlu_examples(path).values() for text in texts]


def patient_text(messages: Sequence[str], chars: int, rng: random.Random) -> str:
    """Patient messages, picked at random, joined until `chars` characters (cut there)."""
    parts: List[str] = []
    length = 0
    while length < chars:
        parts.append(rng.choice(messages))
        length += len(parts[-1]) + 1
    return " ".join(parts)[:chars]


def new_words_text(chars: int, rng: random.Random) -> str:
    """Random letter strings: every word new to spaCy's vocab and to the normalisation cache."""
    words: List[str] = []
    length = 0
    while length < chars:
        words.append("".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(rng.randint(3, 9))))
        length += len(words[-1]) + 1
    return " ".join(words)[:chars]


def measure(call: Callable[[Any], object], items: Sequence[Any], runs: int) -> Tuple[int, int, List[float]]:
    """(messages, runs, milliseconds of each call) of `call` on every item, `runs` times over."""
    timings = []
    for _ in range(runs):
        for item in items:
            start = time.perf_counter()
            call(item)
            timings.append((time.perf_counter() - start) * 1000)
    return len(items), runs, timings


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs over the short and 2,000-char messages")
    parser.add_argument(
        "--long-runs", type=int, default=3, help="runs of the 200,000 and 1,000,000-char messages"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    python = Path(sys.executable)
    python_shown = python.relative_to(Path.cwd()) if python.is_relative_to(Path.cwd()) else python
    prefix = f"PYTHONPATH={shlex.quote(os.environ['PYTHONPATH'])} " if os.environ.get("PYTHONPATH") else ""
    command = prefix + " ".join(shlex.quote(str(part)) for part in [python_shown, *sys.argv])
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"`{command}`, {now}, {platform.node() or 'host'} ({os.cpu_count()} CPUs, Python {platform.python_version()})"
    )
    print()

    import spacy

    started = time.perf_counter()
    nlp = spacy.load(DEFAULT_OUTPUT)
    matcher = RedFlagMatcher.for_pipeline(nlp)
    rasa_setup_s = time.perf_counter() - started
    started = time.perf_counter()
    red_flags_in("warm up")  # the channels' path loads its own copy of the pipeline once
    text_setup_s = time.perf_counter() - started

    typical = [text for path in TYPICAL_SETS for text in examples(path)]
    docs = [nlp(text.lower()) for text in typical]  # SpacyNLP lowercases (case_sensitive: false)
    mixed = typical + [text for path in EMERGENCY_SETS for text in examples(path)]
    two_k = [patient_text(mixed, 2_000, rng) for _ in range(20)]
    fresh = [new_words_text(2_000, rng) for _ in range(20 * args.runs)]  # a new one each call
    rows = [
        ("Rasa path: `active_flags(doc)`, typical patient message, doc already parsed by SpacyNLP",
         measure(matcher.active_flags, docs, args.runs)),
        ("Rasa path with the parse: `active_flags(nlp(text))`, typical patient message",
         measure(lambda text: matcher.active_flags(nlp(text.lower())), typical, args.runs)),
        ("`red_flags_in`, 2,000 characters of patient text", measure(red_flags_in, two_k, args.runs)),
        ("`red_flags_in`, 2,000 characters, every word new to spaCy", measure(red_flags_in, fresh, 1)),
    ]  # fmt: skip
    for chars in (200_000, 1_000_000):
        text = patient_text(mixed, chars, rng)
        rows.append(
            (
                f"`red_flags_in`, {chars:,} characters of patient text",
                measure(red_flags_in, [text], args.long_runs),
            )
        )

    print("| what | messages x runs | median ms | p95 ms |")
    print("|---|---|---|---|")
    for what, (messages, runs, timings) in rows:
        print(f"| {what} | {messages} x {runs} | {ms(statistics.median(timings))} | {ms(p95(timings))} |")
    print()
    print(
        f"p95 by nearest rank (over {args.long_runs} runs it is the slowest). "
        f"Set-up, once per process: pipeline load + matcher build {rasa_setup_s:.1f} s (Rasa path), "
        f"{text_setup_s:.1f} s (`red_flags_in`, its own copy)."
    )
    print()

    print(
        "| set (rules alone, Rasa path) | emergencies caught | recall | look-alikes flagged | false-alarm rate |"
    )
    print("|---|---|---|---|---|")
    for path in EMERGENCY_SETS:
        cases: Dict[str, List[str]] = load_nlu_examples(path)
        emergencies, look_alikes = cases.get("emergency", []), cases.get("not_emergency", [])
        caught = sum(bool(matcher.active_flags(nlp(text.lower()))) for text in emergencies)
        alarms = sum(bool(matcher.active_flags(nlp(text.lower()))) for text in look_alikes)
        print(
            f"| {path.relative_to(ROOT)} | {caught}/{len(emergencies)} | {caught / max(len(emergencies), 1):.3f} "
            f"| {alarms}/{len(look_alikes)} | {alarms / max(len(look_alikes), 1):.3f} |"
        )


if __name__ == "__main__":
    main()
