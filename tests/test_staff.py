"""Staff review and labelling: scrubbing, the inbox over real conversations, YAML round trips."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from bot import PROJECT_ROOT
from bot.evaluation import load_nlu_examples
from bot.launcher import Servers, settings_with_ports
from bot.staff import training_data
from bot.staff.audit import IGNORE, LABEL, AuditLog
from bot.staff.inbox import (
    REASON_FALLBACK,
    REASON_NEGATIVE,
    REASON_SOMETHING_ELSE,
    read_conversations,
    review_items,
)
from bot.staff.scrub import scrub
from bot.staff.training_data import LabelRefused, TrainingFiles
from tests.conftest import free_port
from tests.test_e2e import say


@pytest.mark.parametrize(
    "message, scrubbed",
    [
        ("call me at (305) 555-0123 please", "call me at [phone] please"),
        ("+1 786 555 0199 is my cell", "[phone] is my cell"),
        ("my email is ana.lopez@gmail.com.", "my email is [email]."),
        ("I was born 03/14/1962, is PRP ok?", "I was born [date], is PRP ok?"),
        ("DOB March 14, 1962", "DOB [date]"),
        ("My name is Ana Lopez and my back hurts", "My name is [name] and my back hurts"),
        ("me llamo José Núñez, tengo dolor", "me llamo [name], tengo dolor"),
        ("I'm worried about PRP", "I'm worried about PRP"),
        ("I have had 2 injections in 10 years", "I have had 2 injections in 10 years"),
    ],
)
def test_personal_data_is_scrubbed(message, scrubbed):
    assert scrub(message) == scrubbed


# --- the inbox over conversations driven through the real bot ----------------------------------


@pytest.fixture(scope="module")
def conversations(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("staff")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", f"sqlite:///{tmp / 'clinic.db'}")
        settings = settings_with_ports(free_port(), free_port(), tmp / "tracker.db")
        with Servers(settings, log_dir=tmp / "logs") as servers:
            say(servers, "staff-clear", "what is PRP?")  # answered confidently: not for review
            say(servers, "staff-gibberish", "blorp zzkt wibble")
            say(servers, "staff-gibberish-2", "Blorp zzkt   wibble!")  # the same, grouped
            say(servers, "staff-feedback", "what is a facet joint?")
            say(servers, "staff-feedback", "that didn't help at all")
            say(
                servers,
                "staff-personal",
                "my number is 305-555-0142 and my email is ana@example.org, do you park cars",
            )
            say(servers, "staff-personal", "that's not what i asked")
            say(servers, "staff-booking", "/book_appointment")
            say(servers, "staff-booking", "Maria Lopez")
            say(servers, "staff-booking", "(305) 555-0123")
    return read_conversations(f"sqlite:///{tmp / 'tracker.db'}")


def test_inbox_lists_bad_turns_scrubbed_grouped_newest_first(conversations):
    items = review_items(conversations)
    by_key = {item.key: item for item in items}
    assert "what is prp" not in by_key
    gibberish = by_key["blorp zzkt wibble"]
    assert gibberish.count == 2 and (REASON_FALLBACK in gibberish.reasons or gibberish.confidence < 0.6)
    assert REASON_NEGATIVE in by_key["what is a facet joint"].reasons
    assert any("park cars" in item.text for item in items), [(i.text, i.reasons) for i in items]
    personal = next(item for item in items if "park cars" in item.text)
    assert "[phone]" in personal.text and "[email]" in personal.text and "0142" not in personal.text
    everything = " ".join(item.text for item in items)
    assert "Maria" not in everything and "555-0123" not in everything  # booking answers are never read out
    assert [item.last_seen for item in items] == sorted((item.last_seen for item in items), reverse=True)


def test_handled_messages_leave_the_inbox(conversations):
    assert "blorp zzkt wibble" not in {
        item.key for item in review_items(conversations, {"blorp zzkt wibble"})
    }


def test_something_else_after_did_you_mean_marks_the_question():
    events = [
        {"event": "user", "text": "prp or steroid?", "timestamp": 1.0,
         "parse_data": {"intent": {"name": "faq", "confidence": 0.9},
                        "response_selector": {"faq": {"response": {"intent_response_key": "faq/prp_what", "confidence": 0.9}}}}},
        {"event": "action", "name": "action_clarify"},
        {"event": "user", "text": "/deny", "timestamp": 2.0, "parse_data": {"intent": {"name": "deny", "confidence": 1.0}}},
    ]  # fmt: skip
    [item] = review_items({"c1": events})
    assert item.reasons == {REASON_SOMETHING_ELSE} and item.guess == "faq/prp_what"


def test_the_widgets_not_helpful_button_marks_the_answer_before_it():
    events = [
        {"event": "user", "text": "is prp safe", "timestamp": 1.0,
         "parse_data": {"intent": {"name": "faq", "confidence": 0.95},
                        "response_selector": {"faq": {"response": {"intent_response_key": "faq/safety_side_effects", "confidence": 0.9}}}}},
        {"event": "user", "text": "/feedback_negative", "timestamp": 2.0,
         "parse_data": {"intent": {"name": "feedback_negative", "confidence": 1.0}}},
    ]  # fmt: skip
    [item] = review_items({"c1": events})
    assert item.text == "is prp safe" and item.reasons == {REASON_NEGATIVE}


# --- labelling --------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path) -> TrainingFiles:
    """A copy of the training files, so labels never touch the real ones."""
    shutil.copytree(PROJECT_ROOT / "data", tmp_path / "data")
    for name in ("domain.yml", "config.yml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    (tmp_path / "bot").mkdir()
    shutil.copy(PROJECT_ROOT / "bot" / "topics.yml", tmp_path / "bot" / "topics.yml")
    return TrainingFiles(
        nlu=tmp_path / "data" / "nlu.yml",
        domain=tmp_path / "domain.yml",
        topics=tmp_path / "bot" / "topics.yml",
        project=tmp_path,
    )


def test_a_label_adds_one_line_and_keeps_everything_else(project):
    before = project.nlu.read_text(encoding="utf-8")
    training_data.add_example("does prp hurt my wallet much", "faq/cost_insurance", project)
    after = project.nlu.read_text(encoding="utf-8")
    added = set(after.splitlines()) - set(before.splitlines())
    assert added == {"    - does prp hurt my wallet much"}
    assert len(after.splitlines()) == len(before.splitlines()) + 1
    assert "# Training examples. No test sentence" in after  # comments survive
    assert "does prp hurt my wallet much" in load_nlu_examples(project.nlu)["faq/cost_insurance"]


def test_labels_refuse_duplicates_test_set_messages_and_unknown_labels(project):
    with pytest.raises(LabelRefused, match="already a training example"):
        training_data.add_example("What is PRP?", "faq/prp_what", project)
    held_out = next(iter(load_nlu_examples(PROJECT_ROOT / "tests" / "nlu_heldout.yml")["faq/prp_what"]))
    with pytest.raises(LabelRefused, match="test set"):
        training_data.add_example(held_out, "faq/prp_what", project)
    with pytest.raises(LabelRefused, match="no intent or topic"):
        training_data.add_example("brand new words here", "faq/parking", project)


def test_a_change_that_fails_validation_is_undone(project, monkeypatch):
    before = project.nlu.read_text(encoding="utf-8")
    monkeypatch.setattr(training_data, "validation_problem", lambda files: "ERROR something is wrong")
    with pytest.raises(LabelRefused, match="undone"):
        training_data.add_example("a perfectly new question", "faq/prp_what", project)
    assert project.nlu.read_text(encoding="utf-8") == before


def test_a_new_topic_lands_in_the_three_files_and_passes_rasa_validation(project):
    examples = ["where can I park", "is there parking at the clinic", "parking garage nearby?",
                "do you validate parking", "can i leave my car at your building"]  # fmt: skip
    training_data.add_topic("parking_info", "Parking", examples, "There is a garage next door.", project)
    assert load_nlu_examples(project.nlu)["faq/parking_info"] == examples
    assert 'utter_faq/parking_info:\n    - text: "There is a garage next door."' in project.domain.read_text()
    assert 'parking_info: {title: "Parking", question: "where can I park"}' in project.topics.read_text()
    assert training_data.validation_problem(project) is None
    with pytest.raises(LabelRefused, match="exists already"):
        training_data.add_topic("parking_info", "Parking", examples, "x", project)


def test_unchanged_files_round_trip_byte_for_byte(tmp_path):
    spanish = PROJECT_ROOT / "data" / "nlu_es.yml"  # Spanish labels are written into it the same way
    for kind, path in [("nlu", PROJECT_ROOT / "data" / "nlu.yml"), ("domain", PROJECT_ROOT / "domain.yml"),
                       ("topics", PROJECT_ROOT / "bot" / "topics.yml"),
                       *([("nlu", spanish)] if spanish.exists() else [])]:  # fmt: skip
        yaml = training_data._yaml(kind)
        copy = tmp_path / path.name
        with copy.open("w", encoding="utf-8") as handle:
            yaml.dump(yaml.load(path), handle)
        assert copy.read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), kind


# --- audit ------------------------------------------------------------------------------------


def test_every_change_is_recorded_with_who_and_when(tmp_path):
    audit = AuditLog.from_url(f"sqlite:///{tmp_path / 'clinic.db'}")
    audit.record("Dana", LABEL, key="does prp hurt", message="does prp hurt", label="faq/prp_what")
    audit.record("Luis", IGNORE, key="asdf", message="asdf")
    entries = audit.entries()
    assert [(e.actor, e.action) for e in entries] == [("Luis", IGNORE), ("Dana", LABEL)]
    assert entries[1].detail["label"] == "faq/prp_what" and entries[0].at.tzinfo is not None
    assert audit.handled_keys() == {"does prp hurt", "asdf"}
    with pytest.raises(ValueError):
        audit.record(" ", LABEL, key="x")


def test_staff_cli_review_label_history(tmp_path, project, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'clinic.db'}")
    monkeypatch.setattr(training_data, "PROJECT_FILES", project)
    tracker = tmp_path / "tracker.db"
    with sqlite3.connect(tracker) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, timestamp REAL, data TEXT)"
        )
        connection.execute(
            "INSERT INTO events (sender_id, timestamp, data) VALUES ('c1', 1.0, ?)",
            ('{"event": "user", "text": "do you take parking validation", "timestamp": 1.0, '
             '"parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.3}}}',),
        )  # fmt: skip
    from bot.__main__ import main

    assert main(["staff", "review", "--tracker-db", str(tracker)]) == 0
    assert "do you take parking validation" in capsys.readouterr().out
    assert (
        main(["staff", "label", "do you take parking validation", "--as", "out_of_scope", "--by", "Dana"])
        == 0
    )
    assert "do you take parking validation" in load_nlu_examples(project.nlu)["out_of_scope"]
    assert main(["staff", "review", "--tracker-db", str(tracker)]) == 0
    assert "Nothing to review." in capsys.readouterr().out
    assert main(["staff", "history"]) == 0
    assert "Dana" in capsys.readouterr().out
    assert main(["staff", "label", "What is PRP?", "--as", "faq/prp_what", "--by", "Dana"]) == 2


# --- console accounts -------------------------------------------------------------------------


def test_passwords_are_scrypt_hashes_that_verify():
    from bot.staff.accounts import accounts_from_env, hash_password, verify_password

    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert verify_password("correct horse", stored) and not verify_password("wrong", stored)
    assert not verify_password("x", "garbage") and not verify_password("x", "md5$1$2$3$aa$bb")
    assert accounts_from_env(f"dana={stored}, luis={stored},broken") == {"dana": stored, "luis": stored}


def test_sessions_throttling_and_logout(tmp_path):
    from sqlalchemy import create_engine

    from bot.staff.accounts import MAX_FAILURES, StaffAuth, hash_password

    auth = StaffAuth(
        create_engine(f"sqlite:///{tmp_path / 'clinic.db'}", future=True), {"dana": hash_password("pw")}
    )
    token = auth.log_in("dana", "pw", "10.0.0.1").token
    session = auth.session(token)
    assert session.username == "dana" and len(session.csrf_token) > 20
    assert auth.session("forged") is None and auth.session(None) is None
    for _ in range(MAX_FAILURES):
        assert auth.log_in("dana", "nope", "10.0.0.2").token is None
    assert auth.throttled("10.0.0.2") and auth.log_in("dana", "pw", "10.0.0.2").token is None
    assert auth.log_in("nobody", "pw", "10.0.0.3").token is None
    auth.log_out(token)
    assert auth.session(token) is None
