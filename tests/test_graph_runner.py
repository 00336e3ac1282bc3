"""The dask-free graph runner (bot/graph_runner.py) gives the trained model's own answers.

Both runners load the same trained model; every parse and every action prediction is compared.
"""

from __future__ import annotations

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.engine import loader
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import PROJECT_ROOT
from bot.graph_runner import SequentialGraphRunner
from tests.conftest import MODEL_PATH

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))

MESSAGES = [
    "What is PRP?",
    "¿cuánto cuesta el tratamiento RELIEF?",
    "I can't control my bladder and my legs are getting weak",
    "what's the weather tomorrow",
    "??",
    "🙂🙂",
    "hola",
]


@pytest.fixture(scope="module")
def runners(tmp_path_factory):
    if not MODEL_PATH.exists():
        pytest.fail(f"{MODEL_PATH} is missing: run `make train` (make test does).")
    loaded = {}
    for runner_class in (DaskGraphRunner, SequentialGraphRunner):
        storage = tmp_path_factory.mktemp(runner_class.__name__)
        loaded[runner_class] = loader.load_predict_graph_runner(
            storage, MODEL_PATH, LocalModelStorage, runner_class
        )
    return loaded


def parse(runners, runner_class, text: str) -> dict:
    metadata, runner = runners[runner_class]
    inputs = {"__message__": [UserMessage(text)], "__tracker__": DialogueStateTracker("s", [])}
    results = runner.run(inputs=inputs, targets=[metadata.nlu_target])
    parsed = results[metadata.nlu_target][0]
    return {key: parsed.get(key) for key in ("intent", "intent_ranking", "entities", "language")}


def predict(runners, runner_class, tracker: DialogueStateTracker):
    metadata, runner = runners[runner_class]
    results = runner.run(inputs={"__tracker__": tracker}, targets=[metadata.core_target])
    prediction = results[metadata.core_target]
    return prediction.probabilities, prediction.policy_name, prediction.events, prediction.optional_events


@pytest.mark.parametrize("text", MESSAGES)
def test_every_parse_is_the_one_dask_gives(runners, text):
    assert parse(runners, SequentialGraphRunner, text) == parse(runners, DaskGraphRunner, text)


def conversation_steps():
    """Each step of a conversation: two FAQs (one offering a visit), an emergency, a greeting."""
    events = [
        ActionExecuted("action_session_start"),
        SlotSet("language", "en"),
        ActionExecuted("action_listen"),
    ]
    turns = [
        ("faq", "faq/prp_what", ["utter_faq", "action_listen"]),
        ("faq", "faq/relief_treatment", ["utter_faq", "action_faq_followup", "action_listen"]),
        ("emergency", None, ["utter_emergency", "action_listen"]),
        ("greet", None, ["utter_greet", "action_listen"]),
    ]
    for intent, retrieval, actions in turns:
        parse_data = {"name": intent, "confidence": 0.95}
        if retrieval:
            parse_data["full_retrieval_intent_name"] = retrieval
        events.append(UserUttered("text", parse_data))
        yield list(events)
        for action in actions:
            events.append(ActionExecuted(action))
            yield list(events)


STEPS = list(conversation_steps())


@pytest.mark.parametrize("step", range(len(STEPS)))
def test_every_action_prediction_is_the_one_dask_gives(runners, step):
    answers = [
        predict(runners, runner_class, DialogueStateTracker.from_events("s", STEPS[step], slots=DOMAIN.slots))
        for runner_class in (DaskGraphRunner, SequentialGraphRunner)
    ]
    assert answers[0] == answers[1]


def test_an_input_named_like_a_node_is_refused_as_dask_refuses_it(runners):
    metadata, runner = runners[SequentialGraphRunner]
    with pytest.raises(GraphRunError):
        runner.run(inputs={"__message__": metadata.nlu_target}, targets=[metadata.nlu_target])


def test_a_plan_is_worked_out_once_per_target_list(runners):
    metadata, runner = runners[SequentialGraphRunner]
    runner.run(inputs={"__message__": [UserMessage("hi")]}, targets=[metadata.nlu_target])
    plan = runner._plans[(metadata.nlu_target,)]
    runner.run(inputs={"__message__": [UserMessage("bye")]}, targets=[metadata.nlu_target])
    assert runner._plans[(metadata.nlu_target,)] is plan
    placed = [name for name, _ in plan]
    assert placed[-1] == metadata.nlu_target and len(placed) == len(set(placed))
