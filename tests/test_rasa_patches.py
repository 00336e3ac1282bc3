"""The compiled action-reply check (bot/rasa_patches.py) judges replies exactly as Rasa's own."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot.rasa_patches import validate_action_result

REPLIES = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "booking_offered", "value": True}], "responses": [{"text": "hi"}]},
    {"events": [{"event": "active_loop", "name": "booking_form"}, {"event": "action_execution_rejected"}]},
    {"events": [{"event": "slot"}]},  # a slot event without a name
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": [1, 2]},
    {"events": [{"event": "bot", "text": 5}]},
]


def rasa_verdict(reply) -> str:
    try:
        jsonschema.validate(reply, RemoteAction.action_response_format_spec())
        return "valid"
    except jsonschema.ValidationError as error:
        return f"invalid: {error.message}"


def our_verdict(reply) -> str:
    try:
        validate_action_result(None, reply)
        return "valid"
    except jsonschema.ValidationError as error:
        return f"invalid: {error.message.split('. Failed to validate')[0]}"


@pytest.mark.parametrize("reply", REPLIES)
def test_the_same_verdict_and_message_as_rasa(reply):
    assert our_verdict(reply) == rasa_verdict(reply)


def test_both_kinds_of_reply_are_in_the_cases():
    verdicts = {rasa_verdict(reply).split(":")[0] for reply in REPLIES}
    assert verdicts == {"valid", "invalid"}


def test_installed_patches_reach_the_code_that_loads_models():
    import rasa.core.processor

    from bot import rasa_patches
    from bot.graph_runner import SequentialGraphRunner

    rasa_patches.install()
    assert rasa.core.processor.DaskGraphRunner is SequentialGraphRunner
    assert RemoteAction._validate_action_result is validate_action_result
