"""The topic catalogue is re-read when bot/topics.yml changes, so a topic staff add gets its
"did you mean" button in the running action server; tested on real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actions.clarify import button_for
from bot.topics import TOPICS_PATH, load_topics, topics_path

PRP = 'prp_what: {title: "What PRP is", question: "What is PRP?"}\n'
PARKING = 'parking_info: {title: "Parking", question: "where can I park"}\n'


def write(path: Path, text: str, mtime_ns: int | None = None) -> None:
    path.write_text(text, encoding="utf-8")
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """A staff workspace (STAFF_WORKSPACE) holding its own bot/topics.yml."""
    (tmp_path / "bot").mkdir()
    write(tmp_path / "bot" / "topics.yml", PRP)
    monkeypatch.setenv("STAFF_WORKSPACE", str(tmp_path))
    return tmp_path / "bot" / "topics.yml"


def test_a_topic_added_to_the_file_is_seen_without_a_restart(tmp_path):
    path = tmp_path / "topics.yml"
    write(path, PRP, mtime_ns=1_000_000_000)
    assert list(load_topics(path)) == ["prp_what"]
    write(path, PRP + PARKING, mtime_ns=2_000_000_000)
    assert load_topics(path)["parking_info"].title == "Parking"


def test_an_edit_of_the_same_size_is_seen_by_its_modification_time(tmp_path):
    path = tmp_path / "topics.yml"
    write(path, PRP, mtime_ns=1_000_000_000)
    assert load_topics(path)["prp_what"].title == "What PRP is"
    write(path, PRP.replace("What PRP is", "About PRP!!"), mtime_ns=2_000_000_000)
    assert load_topics(path)["prp_what"].title == "About PRP!!"


def test_an_unchanged_file_is_not_read_again(tmp_path):
    path = tmp_path / "topics.yml"
    write(path, PRP, mtime_ns=1_000_000_000)
    assert load_topics(path)["prp_what"].title == "What PRP is"
    # Same size and time: the key says unchanged, so the parsed copy is served.
    write(path, PRP.replace("What PRP is", "Not reread!"), mtime_ns=1_000_000_000)
    assert load_topics(path)["prp_what"].title == "What PRP is"


def test_a_file_caught_mid_write_keeps_the_last_good_topics(tmp_path):
    path = tmp_path / "topics.yml"
    write(path, PRP, mtime_ns=1_000_000_000)
    assert list(load_topics(path)) == ["prp_what"]
    write(path, "", mtime_ns=2_000_000_000)  # truncated, not yet rewritten
    assert list(load_topics(path)) == ["prp_what"]
    write(path, PRP + PARKING, mtime_ns=3_000_000_000)
    assert list(load_topics(path)) == ["prp_what", "parking_info"]


def test_a_broken_file_with_nothing_loaded_before_is_an_error(tmp_path):
    path = tmp_path / "broken.yml"
    write(path, "just a string\n")
    with pytest.raises(ValueError, match="topics.yml must map"):
        load_topics(path)


def test_the_catalogue_is_the_staff_workspace_copy_when_set(workspace, monkeypatch):
    assert topics_path() == workspace
    monkeypatch.delenv("STAFF_WORKSPACE")
    assert topics_path() == TOPICS_PATH
    assert "prp_what" in load_topics()  # the project's own file


def test_a_new_staff_topic_gets_its_did_you_mean_button(workspace):
    assert button_for("faq/parking_info") is None
    write(workspace, PRP + PARKING, mtime_ns=workspace.stat().st_mtime_ns + 1_000_000_000)
    assert button_for("faq/parking_info") == {"title": "Parking", "payload": "where can I park"}


PRP_BOTH = (
    'prp_what: {title: "What PRP is", question: "What is PRP?", title_es: "Qué es el PRP",'
    ' question_es: "¿Qué es el PRP?"}\n'
)


def test_a_topic_has_its_spanish_title_and_question(workspace):
    write(workspace, PRP_BOTH + PARKING, mtime_ns=workspace.stat().st_mtime_ns + 1_000_000_000)
    assert button_for("faq/prp_what", "es") == {"title": "Qué es el PRP", "payload": "¿Qué es el PRP?"}
    assert button_for("faq/prp_what") == {"title": "What PRP is", "payload": "What is PRP?"}
    # A topic staff added in English only keeps its English button in a Spanish conversation.
    assert button_for("faq/parking_info", "es") == {"title": "Parking", "payload": "where can I park"}


def test_a_spanish_title_without_its_question_is_not_used(tmp_path):
    path = tmp_path / "topics.yml"
    write(path, 'prp_what: {title: "What PRP is", question: "What is PRP?", title_es: "Qué es el PRP"}\n')
    topic = load_topics(path)["prp_what"]
    assert (topic.title_in("es"), topic.question_in("es")) == ("What PRP is", "What is PRP?")
