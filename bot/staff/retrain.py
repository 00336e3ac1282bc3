"""Retrain with a gate: train a candidate, check it and the live model on the held-out questions
(English, and Spanish when tests/nlu_es_heldout.yml exists) and the conversation tests, and let it
go live only if nothing got worse beyond a small tolerance and it clears absolute floors: CI's
held-out gates in each language, and every message of the emergency regression set
(tests/emergency_cases.yml) caught. A live model that is already weak is no excuse.

The report says why in plain words, lists per-intent/topic F1 before and after, and every test
question whose answer changed. It is saved next to the candidate for `staff promote`.
"""

from __future__ import annotations

import json
import logging
import math
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from bot import PROJECT_ROOT
from bot.evaluation import Scores, score
from bot.staff.models import ModelStore
from bot.staff.training_data import PROJECT_FILES, TrainingFiles

HELD_OUT = PROJECT_ROOT / "tests" / "nlu_heldout.yml"
SPANISH_HELD_OUT = PROJECT_ROOT / "tests" / "nlu_es_heldout.yml"
EMERGENCY_CASES = PROJECT_ROOT / "tests" / "emergency_cases.yml"
STORIES = PROJECT_ROOT / "tests" / "test_stories.yml"
CONFIG = PROJECT_ROOT / "config.yml"
# A retrain moves borderline questions both ways: adding a harmless 6-example topic moved 22 of the
# 406 held-out answers (13 worse, 7 better, -1.5 points) with the few-epoch test config. So the
# accuracy rule asks whether the candidate answers significantly more questions worse than better
# (McNemar's test on the paired answers, continuity-corrected, 1% level), not for a fixed drop;
# the absolute floors below still hold whatever the live model scores. At 5%, a second console
# topic (13 worse, 3 better, -2.5 points) was rejected; 1% lets such routine additions through
# while a one-sided loss (14 worse, none better: 12.1) still fails.
MCNEMAR_CRITICAL_VALUE = 6.635  # chi-square, 1 degree of freedom, p = 0.01
F1_TOLERANCE = 0.10
# One or two test questions more or less move the F1 of a small label by 0.1-0.4 (measured:
# adding a topic flipped change_booking 0.80 -> 0.67, prp_evidence 1.00 -> 0.89 and
# feedback_negative 0.75 -> 0.33 on 2 of its questions), so a label must also lose at least 3
# correct answers and a quarter of its test questions.
MIN_LOST_ANSWERS = 3
MIN_LOST_SHARE = 0.25
# Absolute floors, never below CI's gates in tests/test_nlu_heldout.py (tests/test_retrain_gate.py
# checks it), so a promoted model never fails CI. The red-flag rules alone catch every emergency of
# the regression set (tests/test_emergency_cases.py), so a model missing one has lost something.
MIN_HELD_OUT_ACCURACY = 0.93
MIN_HELD_OUT_EMERGENCY_RECALL = 1.0
# The Spanish held-out set gets the same two rules as the English one (the floor, and McNemar
# against the live model on its own paired answers: a Spanish loss is not hidden by a larger
# English set), and any emergency in it must be caught. CI gates it at 0.90 too.
MIN_SPANISH_HELD_OUT_ACCURACY = 0.90
MIN_REGRESSION_RECALL = 1.0
MAX_REGRESSION_FALSE_ALARMS = 0.05
NOT_EMERGENCY = "not_emergency"
TRAINING_STEP = re.compile(r"Starting to train component '(\w+)'")
SPANISH_NOT_CHECKED = (
    "The Spanish held-out set ({name}) does not exist yet: Spanish answers were not checked."
)

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class GateReport:
    candidate: str
    passed: bool
    reasons: List[str]
    accuracy: Tuple[float, float]
    emergency_recall: Tuple[float, float]
    f1: Dict[str, Tuple[Optional[float], Optional[float]]]
    changed: List[Dict[str, str]] = field(default_factory=list)
    stories_passed: bool = True
    # The candidate on the emergency regression set: share of emergencies caught, of look-alikes flagged.
    regression_recall: float = 0.0
    regression_false_alarms: float = 0.0
    created_at: str = ""
    # Both models on the Spanish held-out set; None when it was not checked (see notes).
    spanish_accuracy: Optional[Tuple[float, float]] = None
    spanish_changed: List[Dict[str, str]] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)  # what was not checked, and why

    def summary(self) -> str:
        verdict = "PASSED: it can go live." if self.passed else "REJECTED: the live model stays."
        lines = [f"{self.candidate}: {verdict}", *[f"  - {reason}" for reason in self.reasons]]
        lines.append(f"  held-out accuracy {self.accuracy[0]:.3f} -> {self.accuracy[1]:.3f}; "
                     f"emergencies caught {self.emergency_recall[0]:.3f} -> {self.emergency_recall[1]:.3f}")  # fmt: skip
        lines.append(f"  emergency regression set: {self.regression_recall:.3f} caught, "
                     f"{self.regression_false_alarms:.3f} of look-alikes flagged")  # fmt: skip
        if self.spanish_accuracy is not None:
            lines.append(
                f"  Spanish held-out accuracy {self.spanish_accuracy[0]:.3f} -> {self.spanish_accuracy[1]:.3f}"
            )
        lines.extend(f"  note: {note}" for note in self.notes)
        moved = [(label, before, after) for label, (before, after) in self.f1.items() if before != after]
        for label, before, after in sorted(moved, key=lambda row: (row[2] or 0) - (row[1] or 0)):
            lines.append(f"  F1 {label}: {_f(before)} -> {_f(after)}")
        for prefix, rows in (("changed", self.changed), ("changed (Spanish)", self.spanish_changed)):
            for row in rows:
                lines.append(
                    f"  {prefix}: {row['text']!r} ({row['expected']}): {row['before']} -> {row['after']}"
                )
        return "\n".join(lines)


def _f(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}"


def per_label_f1(scores: Scores) -> Dict[str, Tuple[Optional[float], int, int]]:
    """{label: (F1, correct answers, test questions)}."""
    labels = {expected for _, expected, _ in scores.rows}
    result = {}
    for label in labels:
        true_positive = sum(e == label and p == label for _, e, p in scores.rows)
        predicted = sum(p == label for _, _, p in scores.rows)
        support = sum(e == label for _, e, _ in scores.rows)
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result[label] = (round(f1, 3), true_positive, support)
    return result


def missed_emergencies(scores: Scores) -> List[str]:
    return [
        text
        for text, expected, predicted in scores.rows
        if expected == "emergency" and predicted != "emergency"
    ]


def false_alarm_rate(scores: Scores) -> float:
    look_alikes = [predicted for _, expected, predicted in scores.rows if expected == NOT_EMERGENCY]
    return (
        sum(predicted == "emergency" for predicted in look_alikes) / len(look_alikes) if look_alikes else 0.0
    )


def answers_changed(live: Scores, new: Scores) -> Tuple[int, int]:
    """(right before and wrong now, wrong before and right now) over the same test questions."""
    worse = better = 0
    for (_, expected, before), (_, _, after) in zip(live.rows, new.rows, strict=False):
        worse += before == expected and after != expected
        better += before != expected and after == expected
    return worse, better


def significantly_worse(live: Scores, new: Scores) -> bool:
    worse, better = answers_changed(live, new)
    if worse <= better:
        return False
    return (abs(worse - better) - 1) ** 2 / (worse + better) > MCNEMAR_CRITICAL_VALUE


def _changed_rows(live: Scores, new: Scores) -> List[Dict[str, str]]:
    return [
        {"text": text, "expected": expected, "before": old, "after": predicted}
        for (text, expected, old), (_, _, predicted) in zip(live.rows, new.rows, strict=False)
        if old != predicted
    ]


def _spanish_reasons(live: Scores, new: Scores) -> List[str]:
    """The Spanish held-out set: its emergencies, its floor, then McNemar against the live model."""
    reasons: List[str] = []
    missed = missed_emergencies(new)
    if missed:
        reasons.append(
            f"It misses emergency messages in the Spanish test questions ({len(missed)}), e.g. {missed[0]!r}."
        )
    return reasons + _accuracy_reasons(live, new, MIN_SPANISH_HELD_OUT_ACCURACY, "Spanish test questions")


def _accuracy_reasons(live: Scores, new: Scores, floor: float, questions: str) -> List[str]:
    """The absolute floor first; above it, McNemar's test against the live model."""
    if new.accuracy < floor:
        return [
            f"It answers fewer {questions} correctly than the minimum: {new.accuracy:.1%} with it, "
            f"at least {floor:.0%} needed."
        ]
    if significantly_worse(live, new):
        worse, better = answers_changed(live, new)
        return [
            f"It answers fewer {questions} correctly: {live.accuracy:.1%} now, {new.accuracy:.1%} with it "
            f"({worse} answers got worse, {better} better: more than chance between two trainings)."
        ]
    return []


def _floor_reasons(live: Scores, new: Scores, regression: Scores) -> List[str]:
    """Emergencies and accuracy: absolute floors first, then the drop against the live model."""
    reasons: List[str] = []
    missed = missed_emergencies(new)
    if missed and new.emergency_recall < max(MIN_HELD_OUT_EMERGENCY_RECALL, live.emergency_recall):
        reasons.append(
            f"It misses emergency messages in the test questions ({len(missed)}), e.g. {missed[0]!r}."
        )
    reasons += _accuracy_reasons(live, new, MIN_HELD_OUT_ACCURACY, "test questions")
    regression_missed = missed_emergencies(regression)
    if not any(expected == "emergency" for _, expected, _ in regression.rows):
        reasons.append("The emergency regression set was not checked (no emergency messages in it).")
    elif regression.emergency_recall < MIN_REGRESSION_RECALL:
        reasons.append(
            f"It misses {len(regression_missed)} of the emergency regression set's messages, "
            f"e.g. {regression_missed[0]!r}; every one must be caught."
        )
    if false_alarm_rate(regression) > MAX_REGRESSION_FALSE_ALARMS:
        reasons.append(
            f"It mistakes too many ordinary messages for emergencies: {false_alarm_rate(regression):.1%} "
            f"of the regression set's look-alikes, at most {MAX_REGRESSION_FALSE_ALARMS:.0%} allowed."
        )
    return reasons


def judge(
    candidate: str,
    live: Scores,
    new: Scores,
    stories_passed: bool,
    *,
    regression: Scores,
    spanish: Optional[Tuple[Scores, Scores]] = None,
    notes: Tuple[str, ...] = (),
) -> GateReport:
    """The gate's decision. live/new: both models on the held-out set; regression: the candidate
    on the emergency regression set; spanish: (live, new) on the Spanish held-out set, None when
    there is none (`notes` then say why)."""
    reasons = _floor_reasons(live, new, regression)
    if spanish is not None:
        reasons += _spanish_reasons(*spanish)
    before, after = per_label_f1(live), per_label_f1(new)
    for label, (f1_after, correct_after, support) in sorted(after.items()):
        f1_before, correct_before, _ = before.get(label, (None, 0, 0))
        lost = correct_before - correct_after
        enough_lost = lost >= max(MIN_LOST_ANSWERS, math.ceil(MIN_LOST_SHARE * support))
        if f1_before is not None and enough_lost and f1_after < f1_before - F1_TOLERANCE:
            reasons.append(f"Answers about {label} got worse (F1 {f1_before:.2f} -> {f1_after:.2f}).")
    if not stories_passed:
        reasons.append("The conversation tests (tests/test_stories.yml) fail with it.")
    passed = not reasons
    if passed:
        reasons.append(
            "No test question got a worse answer beyond the tolerance, every emergency is caught, "
            "and it clears the minimum accuracy"
            + (" in English and Spanish." if spanish is not None else ".")
        )
    labels = sorted(set(before) | set(after))
    return GateReport(
        candidate=candidate,
        passed=passed,
        reasons=reasons,
        accuracy=(round(live.accuracy, 4), round(new.accuracy, 4)),
        emergency_recall=(round(live.emergency_recall, 4), round(new.emergency_recall, 4)),
        f1={label: (before.get(label, (None,))[0], after.get(label, (None,))[0]) for label in labels},
        changed=_changed_rows(live, new),
        stories_passed=stories_passed,
        regression_recall=round(regression.emergency_recall, 4),
        regression_false_alarms=round(false_alarm_rate(regression), 4),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        spanish_accuracy=(
            (round(spanish[0].accuracy, 4), round(spanish[1].accuracy, 4)) if spanish is not None else None
        ),
        spanish_changed=_changed_rows(*spanish) if spanish is not None else [],
        notes=list(notes),
    )


def train_candidate(
    store: ModelStore, files: TrainingFiles = PROJECT_FILES, config: Path = CONFIG, progress: Progress = print
) -> str:
    candidate = datetime.now(timezone.utc).strftime("candidate-%Y%m%d-%H%M%S")
    store.candidates_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "rasa", "train", "--config", str(config), "--domain", str(files.domain),
        "--data", str(files.nlu.parent), "--out", str(store.candidates_dir), "--fixed-model-name", candidate,
    ]  # fmt: skip
    progress("Training a candidate model (a few minutes)...")
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert process.stdout is not None
    tail: List[str] = []
    for line in process.stdout:
        tail = (tail + [line.rstrip()])[-20:]
        step = TRAINING_STEP.search(line)
        if step:
            progress(f"Training: {step.group(1)}")
    if process.wait() != 0 or not store.candidate(candidate).exists():
        raise RuntimeError("Training failed:\n" + "\n".join(tail))
    return candidate


def conversation_tests_pass(model: Path) -> bool:
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "test", "core", "--model", str(model), "--stories", str(STORIES),
         "--fail-on-prediction-errors", "--out", str(PROJECT_ROOT / "var" / "results" / "gate")],
        cwd=PROJECT_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    return result.returncode == 0


def spanish_scores(
    live_agent: Any, candidate_agent: Any, path: Path = SPANISH_HELD_OUT, progress: Progress = print
) -> Tuple[Optional[Tuple[Scores, Scores]], List[str]]:
    """Both models on the Spanish held-out set, or (None, [a note]) if the set does not exist yet."""
    if not path.exists():
        note = SPANISH_NOT_CHECKED.format(name=path.name)
        logger.warning(note)
        progress(note)
        return None, [note]
    progress("Checking the live model and the candidate on the Spanish held-out questions...")
    return (score(live_agent, path), score(candidate_agent, path)), []


def check_candidate(
    store: ModelStore, candidate: str, progress: Progress = print, spanish_held_out: Path = SPANISH_HELD_OUT
) -> GateReport:
    from rasa.core.agent import Agent  # heavy (TensorFlow): only when checking

    progress("Checking the live model on the held-out questions...")
    live_agent = Agent.load(str(store.live))
    live_scores = score(live_agent, HELD_OUT)
    progress("Checking the candidate on the held-out questions...")
    candidate_agent = Agent.load(str(store.candidate(candidate)))
    new_scores = score(candidate_agent, HELD_OUT)
    spanish, notes = spanish_scores(live_agent, candidate_agent, spanish_held_out, progress)
    progress("Checking the candidate on the emergency regression set...")
    regression = score(candidate_agent, EMERGENCY_CASES)
    progress("Running the conversation tests with the candidate...")
    stories_passed = conversation_tests_pass(store.candidate(candidate))
    report = judge(
        candidate,
        live_scores,
        new_scores,
        stories_passed,
        regression=regression,
        spanish=spanish,
        notes=tuple(notes),
    )
    store.reports_dir.mkdir(parents=True, exist_ok=True)
    store.report_path(candidate).write_text(json.dumps(asdict(report), indent=1), encoding="utf-8")
    return report
