"""The one-decision classifier (bot/nlu/one_decision.py), trained on the project's real data.

No Rasa model is trained: the component is trained, persisted and loaded through Rasa's own model
storage, which is what `rasa train` does with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.one_decision import OneDecisionClassifier, fitted_temperature

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    resource = Resource("one_decision")
    context = ExecutionContext(GraphSchema({}), "test")
    data = RasaFileImporter(training_data_paths=[str(ROOT / "data")]).get_nlu_data()
    component = OneDecisionClassifier.create({}, storage, resource, context)
    component.train(data)
    return OneDecisionClassifier.load({}, storage, resource, context)


def parse(component: OneDecisionClassifier, text: str) -> Message:
    message = Message(data={"text": text})
    component.process([message])
    return message


def test_a_confident_topic_is_the_intent_and_the_selected_response(trained):
    # The two-stage failure this replaces: DIET ranked `faq` nowhere, so the certain topic was lost.
    message = parse(trained, "Is it covered by insurance?")
    assert message.get("intent")["name"] == "faq"
    selector = message.get("response_selector")["faq"]
    assert selector["response"]["intent_response_key"] == "faq/cost_insurance"
    assert selector["response"]["utter_action"] == "utter_faq/cost_insurance"
    assert message.get("intent")["confidence"] == pytest.approx(selector["response"]["confidence"])


def test_plain_intents_and_spanish(trained):
    assert parse(trained, "hola, quiero una cita").get("intent")["name"] == "book_appointment"
    message = parse(trained, "¿Qué es el PRP?")
    assert message.get("response_selector")["faq"]["response"]["intent_response_key"] == "faq/prp_what"


def test_probabilities_are_a_distribution_over_every_label(trained):
    probabilities = trained.probabilities(["what is prp", "asdf qwer"])
    assert probabilities.shape == (2, len(trained.labels))
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert {"faq/prp_what", "greet", "out_of_scope"} <= set(trained.labels)


def test_faq_appears_once_in_the_intent_ranking_and_topics_in_the_selector_ranking(trained):
    message = parse(trained, "how long does PRP take to work and how long does it last")
    names = [entry["name"] for entry in message.get("intent_ranking")]
    assert names.count("faq") == 1
    ranking = message.get("response_selector")["faq"]["ranking"]
    assert all(entry["intent_response_key"].startswith("faq/") for entry in ranking)
    confidences = [entry["confidence"] for entry in ranking]
    assert confidences == sorted(confidences, reverse=True)


def test_the_temperature_makes_held_out_scores_likely():
    # Scores that rank the right label first by a wide margin deserve a sharp softmax.
    scores = np.array([[2.0, -1.0, -1.0], [-1.0, 2.0, -1.0], [-1.0, -1.0, 2.0]] * 10)
    labels = np.array([0, 1, 2] * 10)
    sharp = fitted_temperature(scores, labels)
    # Scores that are often wrong deserve a flat one.
    noisy = fitted_temperature(scores, np.array([1, 2, 0] * 5 + [0, 1, 2] * 5))
    assert sharp > 5 > noisy


def test_an_empty_message_is_left_alone(trained):
    message = Message(data={"text": ""})
    trained.process([message])
    assert message.get("intent") is None


def test_the_direct_row_equals_the_vectorizers_row_for_patient_texts(trained):
    import yaml

    texts = [
        example.lstrip("- ").strip()
        for block in yaml.safe_load((ROOT / "tests" / "nlu_heldout.yml").read_text())["nlu"]
        for example in block["examples"].splitlines()
        if example.strip()
    ]
    texts += ["", "🙂", "DOLOR DE ESPALDA!!!", "x" * 3000, "qwzx vbnm", "¿¿cuánto cuesta??"]
    features = trained._features
    for text in texts:
        expected = features.transform([text]).toarray()[0]
        row = np.zeros_like(expected, dtype=np.float64)
        columns, values = features.terms(text)
        np.add.at(row, columns, values)
        assert np.allclose(row, expected, atol=1e-6), text
        assert len(set(columns.tolist())) == len(columns)


def test_probabilities_are_the_linear_models_own(trained):
    from scipy.special import softmax

    texts = ["what is prp", "¿me cubre el seguro?", "", "I fell off a ladder and can't feel my legs"]
    matrix = trained._features.transform(texts)
    expected = softmax(trained._temperature * np.asarray(matrix @ trained._weights.T + trained._bias), axis=1)
    assert np.allclose(trained.probabilities(texts), expected, atol=1e-5)
