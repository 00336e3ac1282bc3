"""The staff loop in Spanish: the inbox marks each message EN or ES and can show one language, a
Spanish label goes to data/nlu_es.yml (created with its label block when missing), and a new topic
can carry a Spanish title, question, examples and answer (a conditional variation of its response).

Real files in temporary copies of the project, `rasa data validate` on every change, Rasa's own
Domain and response generator to read the result; no model is trained.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import List

import pytest
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot import PROJECT_ROOT
from bot.evaluation import load_nlu_examples
from bot.staff import training_data
from bot.staff.inbox import read_conversations, review_items
from bot.staff.training_data import ENGLISH_ONLY_WARNING, LabelRefused, TrainingFiles
from tests.test_staff_auth import (  # noqa: F401  (console_env is a fixture)
    PASSWORD,
    console_env,
    cookie_opener,
    get,
    post,
    serve_console,
)

SPANISH_QUESTION = "¿El seguro médico paga el tratamiento con plasma en su clínica de Miami?"
ENGLISH_QUESTION = "does my employer health plan pay for the plasma shots at your office"
# A data/nlu_es.yml as a person would write it: comments, an `examples: |` block per label.
MINIMAL_SPANISH_NLU = """version: "3.1"

# Ejemplos en español (a test's own copy).
nlu:
# --- costs ---
- intent: faq/cost_insurance
  examples: |
    - ¿Cuánto cuesta el tratamiento?
    - ¿Lo cubre el seguro?
"""
PARKING = ["where can I park", "is there parking at the clinic", "parking garage nearby?",
           "do you validate parking", "can i leave my car at your building"]  # fmt: skip
PARKING_ES = ["¿Dónde puedo estacionar el carro?", "¿Hay parqueo para los pacientes en la clínica?",
              "tienen estacionamiento gratis", "donde dejo el carro cuando vaya a la cita",
              "¿Cerca de la clínica hay un garaje para estacionar?"]  # fmt: skip
PARKING_ANSWER_ES = "Hay un garaje al lado de la clínica. Si tiene dudas, llame a la recepción."


@pytest.fixture
def project(tmp_path) -> TrainingFiles:
    """A copy of the training files with a small data/nlu_es.yml of its own."""
    shutil.copytree(PROJECT_ROOT / "data", tmp_path / "data")
    for name in ("domain.yml", "config.yml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    (tmp_path / "bot").mkdir()
    shutil.copy(PROJECT_ROOT / "bot" / "topics.yml", tmp_path / "bot" / "topics.yml")
    (tmp_path / "data" / "nlu_es.yml").write_text(MINIMAL_SPANISH_NLU, encoding="utf-8")
    return TrainingFiles(
        nlu=tmp_path / "data" / "nlu.yml",
        domain=tmp_path / "domain.yml",
        topics=tmp_path / "bot" / "topics.yml",
        project=tmp_path,
    )


def added_lines(before: str, after: str) -> List[str]:
    return [line for line in after.splitlines() if line not in set(before.splitlines())]


# --- labels -----------------------------------------------------------------------------------


def test_a_spanish_label_goes_to_nlu_es_and_an_english_one_to_nlu(project):
    english_before = project.nlu.read_text(encoding="utf-8")
    spanish_before = project.spanish_nlu.read_text(encoding="utf-8")
    assert training_data.add_example(SPANISH_QUESTION, "faq/cost_insurance", project) == "es"
    spanish_after = project.spanish_nlu.read_text(encoding="utf-8")
    assert project.nlu.read_text(encoding="utf-8") == english_before
    # One line, at the end of the label's `examples: |` block; comments and order kept.
    assert spanish_after == spanish_before + f"    - {SPANISH_QUESTION}\n"
    assert load_nlu_examples(project.spanish_nlu)["faq/cost_insurance"][-1] == SPANISH_QUESTION

    assert training_data.add_example(ENGLISH_QUESTION, "faq/cost_insurance", project) == "en"
    assert added_lines(english_before, project.nlu.read_text(encoding="utf-8")) == [
        f"    - {ENGLISH_QUESTION}"
    ]
    assert project.spanish_nlu.read_text(encoding="utf-8") == spanish_after


def test_a_spanish_label_creates_its_block_and_the_file_when_missing(project):
    training_data.add_example(
        "¿Me pueden explicar qué es el plasma rico en plaquetas, doctor?", "faq/prp_what", project
    )
    text = project.spanish_nlu.read_text(encoding="utf-8")
    assert text.startswith(MINIMAL_SPANISH_NLU)  # the file as it was, the new block after it
    assert text.endswith(
        "- intent: faq/prp_what\n  examples: |\n    - ¿Me pueden explicar qué es el plasma rico en plaquetas, doctor?\n"
    )

    project.spanish_nlu.unlink()
    training_data.add_example(
        "hola, ¿el seguro paga la inyección en la espalda?", "faq/cost_insurance", project
    )
    created = project.spanish_nlu.read_text(encoding="utf-8")
    assert created.startswith('version: "3.1"\n\n# Spanish training examples')
    assert load_nlu_examples(project.spanish_nlu) == {
        "faq/cost_insurance": ["hola, ¿el seguro paga la inyección en la espalda?"]
    }


def test_a_failed_spanish_label_leaves_no_new_file_behind(project, monkeypatch):
    project.spanish_nlu.unlink()
    monkeypatch.setattr(training_data, "validation_problem", lambda files: "ERROR something is wrong")
    with pytest.raises(LabelRefused, match="undone"):
        training_data.add_example(
            "¿a los cuántos días de la inyección de plasma se nota algo en la cintura?",
            "faq/prp_timeline",
            project,
        )
    assert not project.spanish_nlu.exists()


def test_spanish_training_and_test_sentences_are_never_added_again(project):
    with pytest.raises(LabelRefused, match="already a training example"):
        training_data.add_example("¿Lo cubre el seguro?", "faq/cost_insurance", project)
    test_set = PROJECT_ROOT / "tests" / "nlu_es_heldout.yml"
    held_out = load_nlu_examples(test_set)["faq/prp_what"][0]
    with pytest.raises(LabelRefused, match="test set"):
        training_data.add_example(held_out, "faq/prp_what", project)
    with pytest.raises(LabelRefused, match="no intent or topic"):
        training_data.add_example("¿tienen estacionamiento para bicicletas?", "faq/bicicletas", project)


def test_the_language_can_be_chosen_by_hand(project, monkeypatch):
    """A short message the detector cannot place goes where staff say."""
    monkeypatch.setattr(training_data, "validation_problem", lambda files: None)
    assert training_data.add_example("PRP precio", "faq/cost_insurance", project, language="es") == "es"
    assert "PRP precio" in load_nlu_examples(project.spanish_nlu)["faq/cost_insurance"]
    with pytest.raises(LabelRefused, match="language"):
        training_data.add_example("PRP costo", "faq/cost_insurance", project, language="fr")


# --- new topics -------------------------------------------------------------------------------


def test_a_bilingual_topic_writes_the_three_files_and_rasa_answers_in_spanish(project):
    warnings = training_data.add_topic(
        "parking_info", "Parking", PARKING, "There is a garage next door.", project,
        title_es="Estacionamiento", question_es="¿Dónde puedo estacionar?", examples_es=PARKING_ES,
        answer_es=PARKING_ANSWER_ES,
    )  # fmt: skip
    assert warnings == []
    assert load_nlu_examples(project.nlu)["faq/parking_info"] == PARKING
    # The button's question is a training example too: it goes first.
    assert load_nlu_examples(project.spanish_nlu)["faq/parking_info"] == [
        "¿Dónde puedo estacionar?",
        *PARKING_ES,
    ]
    assert project.spanish_nlu.read_text(encoding="utf-8").startswith(MINIMAL_SPANISH_NLU)
    assert (
        'parking_info: {title: "Parking", question: "where can I park", title_es: "Estacionamiento", '
        'question_es: "¿Dónde puedo estacionar?"}' in project.topics.read_text(encoding="utf-8")
    )
    domain_text = project.domain.read_text(encoding="utf-8")
    assert (
        '  utter_faq/parking_info:\n    - text: "There is a garage next door."\n'
        "    - condition:\n        - type: slot\n          name: language\n          value: es\n"
        f'      text: "{PARKING_ANSWER_ES}"\n' in domain_text
    )
    domain = Domain.load(str(project.domain))
    assert domain.responses["utter_faq/parking_info"] == [
        {"text": "There is a garage next door."},
        {"condition": [{"type": "slot", "name": "language", "value": "es"}], "text": PARKING_ANSWER_ES},
    ]
    generator = TemplatedNaturalLanguageGenerator(domain.responses)
    for language, answer in (("es", PARKING_ANSWER_ES), ("en", "There is a garage next door.")):
        tracker = DialogueStateTracker.from_events("t", [SlotSet("language", language)], slots=domain.slots)
        reply = asyncio.run(generator.generate("utter_faq/parking_info", tracker, "rest"))
        assert reply["text"] == answer


def test_an_english_only_topic_is_allowed_with_a_warning_and_half_a_spanish_version_is_not(project):
    before = {
        path: path.read_text(encoding="utf-8") for path in (project.nlu, project.spanish_nlu, project.domain)
    }
    with pytest.raises(LabelRefused, match="Spanish answer"):
        training_data.add_topic(
            "parking_info", "Parking", PARKING, "There is a garage next door.", project,
            title_es="Estacionamiento", examples_es=PARKING_ES,
        )  # fmt: skip
    with pytest.raises(LabelRefused, match="5 Spanish example"):
        training_data.add_topic(
            "parking_info", "Parking", PARKING, "There is a garage next door.", project,
            title_es="Estacionamiento", examples_es=PARKING_ES[:3], answer_es=PARKING_ANSWER_ES,
        )  # fmt: skip
    assert {path: path.read_text(encoding="utf-8") for path in before} == before

    warnings = training_data.add_topic(
        "parking_info", "Parking", PARKING, "There is a garage next door.", project
    )
    assert warnings == [ENGLISH_ONLY_WARNING] and "English answer" in ENGLISH_ONLY_WARNING
    assert project.spanish_nlu.read_text(encoding="utf-8") == before[project.spanish_nlu]
    assert "faq/parking_info" in load_nlu_examples(project.nlu)


def test_the_cli_adds_a_bilingual_topic_and_warns_about_an_english_only_one(
    tmp_path, project, monkeypatch, capsys
):
    from bot.__main__ import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'clinic.db'}")
    monkeypatch.setattr(training_data, "PROJECT_FILES", project)
    monkeypatch.setattr(training_data, "validation_problem", lambda files: None)  # rasa's check: tests above
    spanish = [arg for example in PARKING_ES for arg in ("--example-es", example)]
    english = [arg for example in PARKING for arg in ("--example", example)]
    assert main(["staff", "add-topic", "parking_info", "--title", "Parking", *english, "--answer", "A garage.",
                 "--title-es", "Estacionamiento", *spanish, "--answer-es", PARKING_ANSWER_ES, "--by", "Dana"]) == 0  # fmt: skip
    assert "Warning" not in capsys.readouterr().err
    assert load_nlu_examples(project.spanish_nlu)["faq/parking_info"] == PARKING_ES
    videos = ["can I do a video visit", "do you offer telehealth", "online consultation possible?",
              "can the doctor see me over zoom", "is there a virtual appointment option"]  # fmt: skip
    english = [arg for example in videos for arg in ("--example", example)]
    assert main(["staff", "add-topic", "video_visits", "--title", "Video visits", *english,
                 "--answer", "Please call the clinic.", "--by", "Dana"]) == 0  # fmt: skip
    assert "Spanish-speaking patients will get the English answer" in capsys.readouterr().err


# --- the inbox --------------------------------------------------------------------------------


def user_event(text: str, timestamp: float) -> dict:
    return {"event": "user", "text": text, "timestamp": timestamp,
            "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.3}}}  # fmt: skip


def tracker_db(path: Path, messages: List[str]) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, timestamp REAL, data TEXT)"
        )
        for number, message in enumerate(messages, start=1):
            connection.execute(
                "INSERT INTO events (sender_id, timestamp, data) VALUES (?, ?, ?)",
                (f"c{number}", float(number), json.dumps(user_event(message, float(number)))),
            )
    return path


def test_the_inbox_marks_each_message_en_or_es_and_filters_by_language(tmp_path):
    conversations = read_conversations(
        f"sqlite:///{tracker_db(tmp_path / 't.db', [ENGLISH_QUESTION, SPANISH_QUESTION])}"
    )
    items = review_items(conversations)
    assert [(item.text, item.language) for item in items] == [
        (SPANISH_QUESTION, "es"),
        (ENGLISH_QUESTION, "en"),
    ]
    assert [item.text for item in review_items(conversations, language="es")] == [SPANISH_QUESTION]
    assert [item.text for item in review_items(conversations, language="en")] == [ENGLISH_QUESTION]
    with pytest.raises(ValueError):
        review_items(conversations, language="fr")


def test_the_cli_review_shows_the_language_and_filters(tmp_path, monkeypatch, capsys):
    from bot.__main__ import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'clinic.db'}")
    tracker = tracker_db(tmp_path / "t.db", [ENGLISH_QUESTION, SPANISH_QUESTION])
    assert main(["staff", "review", "--tracker-db", str(tracker)]) == 0
    out = capsys.readouterr().out
    assert f"ES  {SPANISH_QUESTION}" in out and f"EN  {ENGLISH_QUESTION}" in out
    assert main(["staff", "review", "--tracker-db", str(tracker), "--language", "es"]) == 0
    out = capsys.readouterr().out
    assert SPANISH_QUESTION in out and ENGLISH_QUESTION not in out


@pytest.mark.usefixtures("console_env")
def test_the_console_shows_es_and_a_spanish_label_lands_in_nlu_es(tmp_path, project, monkeypatch):
    tracker_db(tmp_path / "tracker.db", [ENGLISH_QUESTION, SPANISH_QUESTION])
    monkeypatch.setenv("TRACKER_DB", str(tmp_path / "tracker.db"))
    monkeypatch.setattr(training_data, "PROJECT_FILES", project)
    with serve_console(secure_cookie=False) as base_url:
        opener, _ = cookie_opener()
        assert (
            post(base_url + "/staff/login", {"username": "dana", "password": PASSWORD}, opener=opener)[0]
            == 303
        )
        status, page = get(base_url + "/staff/", opener)
        assert status == 200
        languages = re.findall(r'data-testid="inbox-item" data-language="(\w+)"', page)
        badges = re.findall(r'data-testid="item-language"[^>]*>(\w+)</abbr>', page)
        assert (languages, badges) == (["es", "en"], ["ES", "EN"])
        assert (
            'data-testid="language-filter"' in page
            and '<option value="es">Spanish only (ES)</option>' in page
        )
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = {
            "csrf_token": csrf,
            "message": SPANISH_QUESTION,
            "label": "faq/cost_insurance",
            "action": "label",
        }
        status, _, _ = post(base_url + "/staff/label", form, opener=opener)
        assert status == 303
        assert SPANISH_QUESTION in load_nlu_examples(project.spanish_nlu)["faq/cost_insurance"]
        assert SPANISH_QUESTION not in {e for texts in load_nlu_examples(project.nlu).values() for e in texts}
        status, page = get(base_url + "/staff/", opener)
        assert re.findall(r'data-language="(\w+)"', page) == ["en"]  # labelled: it left the inbox
        status, page = get(base_url + "/staff/topics/new", opener)
        assert 'data-testid="english-only-warning"' in page and "English answer" in page


def test_the_new_topic_form_has_the_spanish_fields_when_the_console_reads_them():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from bot.channels.staff_console import TEMPLATES

    templates = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    page = templates.get_template("new_topic.html").render(
        prefix="/staff", session=None, form={}, bilingual=True
    )
    names = set(re.findall(r'name="(\w+)"', page))
    assert set(training_data.TOPIC_FORM_FIELDS) <= names
    assert "Spanish-speaking" in page and "English answer" in page


def test_the_topic_form_fields_reach_add_topic(project, monkeypatch):
    monkeypatch.setattr(training_data, "validation_problem", lambda files: None)
    form = {"name": "parking_info", "title": "Parking", "examples": "\n".join(PARKING) + "\n\n",
            "answer": "A garage.", "title_es": "Estacionamiento", "question_es": "",
            "examples_es": "\n".join(PARKING_ES), "answer_es": PARKING_ANSWER_ES}  # fmt: skip
    assert training_data.add_topic_from_form(form, project) == []
    assert load_nlu_examples(project.spanish_nlu)["faq/parking_info"] == PARKING_ES
    assert 'question_es: "¿Dónde puedo estacionar el carro?"' in project.topics.read_text(encoding="utf-8")
