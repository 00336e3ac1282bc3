"""A dialogue policy that keeps the `language` slot in step with the patient.

The NLU marks a message that switches language (`language_switch`, bot/nlu/language_detector.py).
On the first prediction of that turn this policy returns `SlotSet("language", ...)` as a
mandatory event: Rasa applies it whichever policy wins, before the predicted action runs, so the
very answer to "¿Qué es el PRP?" or to an emergency is already in Spanish. It never predicts an
action (all zeros) and needs neither the action server nor training.

Why not an entity with a `from_entity` mapping: Rasa featurizes every entity for retrieval
intents (`faq`) whatever `ignore_entities` says, so no rule or memoized story matched a turn that
carried a language, and a "yes" to the booking offer fell through to the fallback.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.language import LANGUAGES
from bot.nlu.language_detector import LANGUAGE_SWITCH_KEY
from bot.stateless_policy import StatelessPolicy

LANGUAGE_SLOT = "language"
LANGUAGE_CHOICE_KEY = "language_choice"
# Rasa runs this action itself right after every user message, before any prediction.
ACTION_EXTRACT_SLOTS = "action_extract_slots"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class ReplyLanguagePolicy(StatelessPolicy):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        # Its predictions are all zeros, so its priority never decides anything (0: below every other).
        return {"priority": 0}

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        return self._prediction(probabilities, events=language_events(tracker))


def language_events(tracker: DialogueStateTracker) -> List[SlotSet]:
    """`SlotSet(language)` on the first prediction after a message that switches language."""
    if not is_first_prediction_of_turn(tracker) or tracker.latest_message is None:
        return []
    message = tracker.latest_message
    # Typed intents such as the widget's "/greet" skip the NLU pipeline, so the widget's choice is
    # also read from the message's metadata here.
    choice = (message.metadata or {}).get(LANGUAGE_CHOICE_KEY) if isinstance(message.metadata, dict) else None
    language = choice if choice in LANGUAGES else (message.parse_data or {}).get(LANGUAGE_SWITCH_KEY)
    if language not in LANGUAGES or tracker.get_slot(LANGUAGE_SLOT) == language:
        return []
    return [SlotSet(LANGUAGE_SLOT, language)]


def is_first_prediction_of_turn(tracker: DialogueStateTracker) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return True
        if isinstance(event, ActionExecuted) and event.action_name not in (
            ACTION_EXTRACT_SLOTS,
            ACTION_LISTEN_NAME,
        ):
            return False
    return False
