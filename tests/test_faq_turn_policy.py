"""What follows an FAQ answer (bot/faq_turn_policy.py): a booking offer for a few topics through the
action server, otherwise back to listening without calling it."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import PROJECT_ROOT
from bot.faq_turn_policy import FaqTurnPolicy
from bot.topics import OFFER_BOOKING_AFTER, load_topics

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> FaqTurnPolicy:
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    context = ExecutionContext(GraphSchema({}), "test")
    return FaqTurnPolicy.create(FaqTurnPolicy.get_default_config(), storage, Resource("faq_turn"), context)


def faq_turn(topic: str, *, offered_before: bool = False, then: tuple = ("utter_faq",), form: bool = False):
    intent = {"name": "faq", "confidence": 0.9, "full_retrieval_intent_name": f"faq/{topic}"}
    events = [ActionExecuted("action_listen")]
    if form:
        events += [ActiveLoop("booking_form")]
    if offered_before:
        events += [SlotSet("booking_offered", True)]
    events += [UserUttered("a question", intent), *(ActionExecuted(name) for name in then)]
    return DialogueStateTracker.from_events("t", events, slots=DOMAIN.slots)


def predicted(policy: FaqTurnPolicy, tracker: DialogueStateTracker):
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    if prediction.probabilities[best] == 0:
        return None, prediction.events
    return DOMAIN.action_names_or_texts[best], prediction.events


@pytest.mark.parametrize("topic", sorted(OFFER_BOOKING_AFTER))
def test_topics_that_warrant_a_visit_go_on_to_the_booking_offer(policy, topic):
    assert predicted(policy, faq_turn(topic)) == ("action_faq_followup", [])


@pytest.mark.parametrize("topic", sorted(set(load_topics()) - OFFER_BOOKING_AFTER))
def test_other_topics_go_back_to_listening_without_the_action_server(policy, topic):
    assert predicted(policy, faq_turn(topic)) == ("action_listen", [])


def test_the_turn_ends_after_the_offer(policy):
    tracker = faq_turn("relief_treatment", then=("utter_faq", "action_faq_followup"))
    assert predicted(policy, tracker) == ("action_listen", [])


def test_an_old_booking_offer_is_withdrawn_by_an_answer_that_makes_none(policy):
    action, events = predicted(policy, faq_turn("prp_what", offered_before=True))
    assert action == "action_listen"
    assert events == [SlotSet("booking_offered", False)]


@pytest.mark.parametrize(
    "tracker",
    [
        faq_turn("prp_what", then=()),  # the answer itself is the rule's call
        faq_turn("prp_what", then=("utter_faq", "action_listen")),
        faq_turn("prp_what", form=True),  # the form's rules answer FAQs there
        faq_turn("prp_what", then=("utter_faq/prp_timeline",)),  # a follow-up's own answer
    ],
)
def test_abstains_outside_the_step_after_an_faq_answer(policy, tracker):
    assert predicted(policy, tracker) == (None, [])


def test_every_offer_topic_is_a_real_topic():
    assert set(load_topics()) >= OFFER_BOOKING_AFTER
