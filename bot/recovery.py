"""Lets a conversation recover after its actions failed in a row.

When a turn runs into Rasa's limit of actions per message (say, a custom action failed and the
policy kept predicting fallbacks), Rasa stops without the `action_listen` that ends a turn. Its
limit counts actions back to the last `action_listen`, across later user messages, so every
following message of that conversation hit the limit at once and got no reply at all, `/restart`
included. Ending the broken turn with `action_listen` makes the next message a normal turn.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted

logger = logging.getLogger(__name__)


def end_broken_turn(tracker: Any, output_channel: Any, nlg: Any) -> None:
    """Rasa's `on_circuit_break` callback (sync): close the turn so the conversation goes on."""
    logger.warning("A turn hit the action limit; it is closed so the next message starts afresh.")
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))


def ensure_recovery_hook(agent: Any) -> None:
    """Installs the callback on the agent's current processor (a model switch makes a new one)."""
    processor = getattr(agent, "processor", None)
    if processor is not None and processor.on_circuit_break is None:
        processor.on_circuit_break = end_broken_turn
