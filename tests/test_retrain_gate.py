"""The staff promotion gate's absolute floors: a candidate goes live only if it would also pass CI
(held-out accuracy and emergencies, in English and in Spanish) and catches every message of the
emergency regression set, however weak the live model already is; a significant drop on the
Spanish held-out set rejects it as one on the English set does. Scores are built from the real
test sets, no training."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import List, Tuple

import pytest

from bot.evaluation import Scores, load_nlu_examples
from bot.staff import retrain
from bot.staff.retrain import EMERGENCY_CASES, HELD_OUT, SPANISH_HELD_OUT, judge
from tests import test_nlu_heldout as ci_gates

Row = Tuple[str, str, str]


def answered_right(path) -> List[Row]:
    """Every message of a test set with the expected answer (look-alikes answered as an FAQ)."""
    return [
        (text, label, "faq/prp_what" if label == "not_emergency" else label)
        for label, texts in load_nlu_examples(path).items()
        for text in texts
    ]


def wrong(rows: List[Row], count: int, expected: str | None = None, answer: str = "nlu_fallback") -> Scores:
    """The first `count` rows of one expected label (default: any but emergencies) answered with
    `answer` instead."""
    changed, result = 0, []
    for text, label, predicted in rows:
        chosen = label == expected if expected else label != "emergency"
        if changed < count and chosen and predicted != answer:
            result.append((text, label, answer))
            changed += 1
        else:
            result.append((text, label, predicted))
    assert changed == count, "not enough rows to change"
    return Scores(rows=result)


@pytest.fixture(scope="module")
def held_out() -> List[Row]:
    return answered_right(HELD_OUT)


@pytest.fixture(scope="module")
def regression() -> List[Row]:
    return answered_right(EMERGENCY_CASES)


def errors_for_accuracy(rows: List[Row], accuracy: float) -> int:
    """How many non-emergency wrong answers bring the set down to about `accuracy`."""
    return int(len(rows) * (1 - accuracy))


def test_floors_are_never_below_ci_gates():
    assert retrain.MIN_HELD_OUT_ACCURACY >= ci_gates.MIN_ACCURACY
    assert retrain.MIN_HELD_OUT_EMERGENCY_RECALL >= ci_gates.MIN_EMERGENCY_RECALL
    assert retrain.MIN_REGRESSION_RECALL >= ci_gates.MIN_REGRESSION_RECALL
    assert retrain.MIN_REGRESSION_RECALL == 1.0
    assert retrain.MAX_REGRESSION_FALSE_ALARMS <= ci_gates.MAX_REGRESSION_FALSE_ALARMS


def test_a_good_candidate_passes_and_reports_the_regression_set(held_out, regression):
    live = wrong(held_out, 10)
    report = judge("c1", live, Scores(rows=held_out), True, regression=Scores(rows=regression))
    assert report.passed, report.reasons
    assert (report.regression_recall, report.regression_false_alarms) == (1.0, 0.0)
    assert "emergency regression set: 1.000 caught" in report.summary()
    assert json.loads(json.dumps(asdict(report)))["regression_recall"] == 1.0  # the saved report


def test_a_candidate_as_weak_as_the_live_model_is_rejected_below_the_accuracy_floor(held_out, regression):
    """No drop against the live model, so the relative rules alone would let it through."""
    below = errors_for_accuracy(held_out, retrain.MIN_HELD_OUT_ACCURACY) + 3
    weak = wrong(held_out, below)
    assert weak.accuracy < retrain.MIN_HELD_OUT_ACCURACY
    report = judge("c1", weak, weak, True, regression=Scores(rows=regression))
    assert not report.passed
    assert report.reasons == [
        f"It answers fewer test questions correctly than the minimum: {weak.accuracy:.1%} with it, "
        f"at least {retrain.MIN_HELD_OUT_ACCURACY:.0%} needed."
    ]


def test_accuracy_at_the_floor_passes(held_out, regression):
    at_floor = wrong(held_out, errors_for_accuracy(held_out, retrain.MIN_HELD_OUT_ACCURACY))
    assert at_floor.accuracy >= retrain.MIN_HELD_OUT_ACCURACY
    assert judge("c1", at_floor, at_floor, True, regression=Scores(rows=regression)).passed


def test_one_missed_regression_emergency_rejects_a_perfect_candidate(held_out, regression):
    missed_one = wrong(regression, 1, "emergency", answer="faq/prp_safety")
    report = judge("c1", Scores(rows=held_out), Scores(rows=held_out), True, regression=missed_one)
    first_emergency = load_nlu_examples(EMERGENCY_CASES)["emergency"][0]
    assert not report.passed
    assert report.reasons == [
        f"It misses 1 of the emergency regression set's messages, e.g. {first_emergency!r}; "
        "every one must be caught."
    ]
    assert report.regression_recall < 1.0


def test_a_held_out_emergency_the_live_model_also_missed_still_rejects(held_out, regression):
    both_miss = wrong(held_out, 1, "emergency", answer="faq/prp_safety")
    report = judge("c1", both_miss, both_miss, True, regression=Scores(rows=regression))
    assert not report.passed
    assert "misses emergency messages in the test questions (1)" in report.reasons[0]


@pytest.mark.parametrize("over_limit", [False, True])
def test_false_alarms_on_the_regression_set_are_capped(held_out, regression, over_limit):
    look_alikes = sum(label == "not_emergency" for _, label, _ in regression)
    allowed = int(look_alikes * retrain.MAX_REGRESSION_FALSE_ALARMS)
    alarms = wrong(regression, allowed + over_limit, "not_emergency", answer="emergency")
    report = judge("c1", Scores(rows=held_out), Scores(rows=held_out), True, regression=alarms)
    assert report.passed is not over_limit
    assert any("mistakes too many ordinary messages" in reason for reason in report.reasons) is over_limit


def test_a_regression_set_without_emergencies_is_not_a_pass(held_out):
    look_alikes_only = Scores(rows=[("is prp safe", "not_emergency", "faq/safety_side_effects")])
    report = judge("c1", Scores(rows=held_out), Scores(rows=held_out), True, regression=look_alikes_only)
    assert not report.passed
    assert "not checked" in report.reasons[0]


# --- the Spanish held-out set -------------------------------------------------------------------


@pytest.fixture(scope="module")
def spanish() -> List[Row]:
    """tests/nlu_es_heldout.yml answered right (written by another helper; ~160 questions)."""
    rows = answered_right(SPANISH_HELD_OUT)
    assert len(rows) >= 100, "the Spanish held-out set is too small for these tests"
    return rows


def spanish_wrong(rows: List[Row], indexes) -> Scores:
    return Scores(rows=[(t, e, "nlu_fallback" if n in indexes else p) for n, (t, e, p) in enumerate(rows)])


def test_the_spanish_floor_is_never_below_ci():
    """CI gates the Spanish held-out and blind sets at 0.90 (whatever its constants are called)."""
    ci_spanish = [
        value
        for name, value in vars(ci_gates).items()
        if name.startswith("MIN_") and ("_ES_" in f"_{name}_" or "SPANISH" in name) and "ACCURACY" in name
    ]
    assert max([0.90, *ci_spanish]) <= retrain.MIN_SPANISH_HELD_OUT_ACCURACY


def test_a_candidate_as_good_in_spanish_passes_and_reports_both_languages(held_out, regression, spanish):
    live = spanish_wrong(spanish, range(6))
    report = judge(
        "c1", Scores(rows=held_out), Scores(rows=held_out), True,
        regression=Scores(rows=regression), spanish=(live, Scores(rows=spanish)),
    )  # fmt: skip
    assert report.passed, report.reasons
    assert report.reasons[0].endswith("in English and Spanish.")
    assert report.spanish_accuracy == (round(live.accuracy, 4), 1.0)
    assert len(report.spanish_changed) == 6 and report.notes == []
    assert f"Spanish held-out accuracy {live.accuracy:.3f} -> 1.000" in report.summary()
    saved = json.loads(json.dumps(asdict(report)))  # what `staff promote` and the console read
    assert saved["spanish_accuracy"] == [round(live.accuracy, 4), 1.0]


def test_answers_moving_both_ways_in_spanish_are_noise(held_out, regression, spanish):
    live = spanish_wrong(spanish, range(5))  # 5 wrong
    new = spanish_wrong(spanish, [*range(3, 5), *range(10, 14)])  # 3 of them right now, 4 others wrong
    assert new.accuracy >= retrain.MIN_SPANISH_HELD_OUT_ACCURACY
    assert retrain.answers_changed(live, new) == (4, 3)
    report = judge(
        "c1", Scores(rows=held_out), Scores(rows=held_out), True,
        regression=Scores(rows=regression), spanish=(live, new),
    )  # fmt: skip
    assert report.passed, report.reasons


def test_a_candidate_that_drops_in_spanish_is_rejected_though_english_is_perfect(
    held_out, regression, spanish
):
    """Above the floor, but 12 Spanish answers worse and none better: more than chance."""
    dropped = spanish_wrong(spanish, range(12))
    assert dropped.accuracy >= retrain.MIN_SPANISH_HELD_OUT_ACCURACY
    report = judge(
        "c1", Scores(rows=held_out), Scores(rows=held_out), True,
        regression=Scores(rows=regression), spanish=(Scores(rows=spanish), dropped),
    )  # fmt: skip
    assert not report.passed
    assert report.reasons == [
        f"It answers fewer Spanish test questions correctly: 100.0% now, {dropped.accuracy:.1%} with it "
        "(12 answers got worse, 0 better: more than chance between two trainings)."
    ]
    assert len(report.spanish_changed) == 12 and report.changed == []


def test_a_candidate_as_weak_in_spanish_as_the_live_model_is_rejected_below_the_floor(
    held_out, regression, spanish
):
    below = int(len(spanish) * (1 - retrain.MIN_SPANISH_HELD_OUT_ACCURACY)) + 3
    weak = spanish_wrong(spanish, range(below))
    report = judge(
        "c1", Scores(rows=held_out), Scores(rows=held_out), True,
        regression=Scores(rows=regression), spanish=(weak, weak),
    )  # fmt: skip
    assert not report.passed
    assert report.reasons == [
        f"It answers fewer Spanish test questions correctly than the minimum: {weak.accuracy:.1%} with it, "
        "at least 90% needed."
    ]


def test_a_missed_spanish_emergency_rejects(held_out, regression, spanish):
    rows = [*spanish, ("me duele el pecho y no puedo respirar", "emergency", "emergency")]
    missed = [*spanish, ("me duele el pecho y no puedo respirar", "emergency", "faq/safety_side_effects")]
    report = judge(
        "c1", Scores(rows=held_out), Scores(rows=held_out), True,
        regression=Scores(rows=regression), spanish=(Scores(rows=rows), Scores(rows=missed)),
    )  # fmt: skip
    assert not report.passed
    assert "emergency messages in the Spanish test questions (1)" in report.reasons[0]


def test_without_a_spanish_set_the_gate_says_so_and_judges_english(tmp_path, held_out, regression, caplog):
    said: List[str] = []
    missing = tmp_path / "nlu_es_heldout.yml"
    with caplog.at_level(logging.WARNING, logger="bot.staff.retrain"):
        scores, notes = retrain.spanish_scores(None, None, missing, progress=said.append)
    assert scores is None and notes == said
    assert notes == [
        "The Spanish held-out set (nlu_es_heldout.yml) does not exist yet: Spanish answers were not checked."
    ]
    assert [record.getMessage() for record in caplog.records] == notes
    report = judge(
        "c1", Scores(rows=held_out), Scores(rows=held_out), True,
        regression=Scores(rows=regression), spanish=scores, notes=tuple(notes),
    )  # fmt: skip
    assert report.passed and report.spanish_accuracy is None and report.notes == notes
    assert f"note: {notes[0]}" in report.summary()
    assert report.reasons[0].endswith("minimum accuracy.")


def test_the_console_report_shows_the_spanish_result_and_notes(held_out, regression, spanish):
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from bot.channels.staff_console import TEMPLATES

    report = judge(
        "c1", Scores(rows=held_out), Scores(rows=held_out), True,
        regression=Scores(rows=regression), spanish=(Scores(rows=spanish), spanish_wrong(spanish, range(12))),
        notes=("a note",),
    )  # fmt: skip
    saved = json.loads(json.dumps(asdict(report)))
    templates = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    job = type("Job", (), {"running": False, "lines": []})()
    page = templates.get_template("retrain.html").render(prefix="/staff", session=None, job=job, report=saved)
    assert "Spanish held-out accuracy 1.000 before" in " ".join(page.split())
    assert "Spanish test questions answered differently" in page and "a note" in page
