"""A conversation whose actions failed in a row recovers on the next message (bot/recovery.py).

The real model in-process, with no action server: every custom action fails, the way it does when
the action server is down or a booking save raises.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted

from bot.channels.common import answer_safely


@pytest.fixture(scope="module")
def agent(trained_agent):
    return trained_agent  # in-memory tracker store, no action endpoint


def turn(agent, sender: str, text: str):
    collector = CollectingOutputChannel()
    return asyncio.run(answer_safely(agent.handle_message, agent, text, sender, collector, "rest"))


def actions_since_listen(agent, sender: str) -> int:
    tracker = asyncio.run(agent.tracker_store.retrieve(sender))
    count = 0
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted):
            if event.action_name == ACTION_LISTEN_NAME:
                break
            count += 1
    return count


def test_failed_actions_do_not_strand_the_conversation(agent):
    sender = f"recover-{uuid.uuid4().hex}"
    # Booking needs the (missing) action server: its actions fail one after another.
    turn(agent, sender, "I want to book an appointment")
    turn(agent, sender, "Maria Lopez")
    assert actions_since_listen(agent, sender) < agent.processor.max_number_of_predictions
    answer = turn(agent, sender, "What is PRP?")
    assert not answer.failed
    assert "platelet" in " ".join(message.get("text", "") for message in answer.messages).lower()
    emergency = turn(agent, sender, "I lost control of my bladder and my legs are going numb")
    assert "911" in emergency.messages[0]["text"]
