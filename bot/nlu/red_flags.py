"""Rasa NLU component: any message describing a red flag gets intent `emergency`.

It runs after the classifiers and the fallback, so `/model/parse` reports `emergency` for such
messages however the classifier scored them.

The rules decide what is an emergency. The classifier's own `emergency` label, when the rules find
no red flag, is a safety net, not a decision: a bag-of-words classifier cannot read negations,
general questions or old events ("no tengo fiebre", "can the shot cause a headache?"), which the
rules do, and alone it raised false alarms on 5.6% of the look-alikes even above 0.95. Such a
message becomes `nlu_fallback` marked `possible_emergency`; the clarification then starts with
"If this is an emergency, call 911 now" (actions/clarify.py). docs/decisions.md, "Emergencies".
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.red_flag_matcher import RedFlagMatcher

EMERGENCY_INTENT = "emergency"
FALLBACK_INTENT = "nlu_fallback"
POSSIBLE_EMERGENCY_KEY = "possible_emergency"
RED_FLAGS_KEY = "red_flags"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER],
    is_trainable=False,
    model_from="SpacyNLP",
)
class RedFlagDetector(GraphComponent):
    """Overrides the predicted intent with `emergency` when a red-flag phrase is present."""

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RedFlagDetector:
        return cls()

    def __init__(self) -> None:
        self._matcher: Optional[RedFlagMatcher] = None

    def _matcher_for(self, model: SpacyModel) -> RedFlagMatcher:
        if self._matcher is None:
            self._matcher = RedFlagMatcher.for_pipeline(model.model)
        return self._matcher

    def process(self, messages: List[Message], model: SpacyModel) -> List[Message]:
        matcher = self._matcher_for(model)
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            doc = message.get(SPACY_DOCS[TEXT]) or model.model(text.lower())
            flags = matcher.active_flags(doc)
            if flags:
                mark_emergency(message, [flag.flag for flag in flags])
            elif (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == EMERGENCY_INTENT:
                mark_possible_emergency(message)
        return messages


def mark_emergency(message: Message, flag_names: List[str]) -> None:
    """Sets intent `emergency` (confidence 1.0) on top of the ranking, keeping the rest."""
    emergency = {INTENT_NAME_KEY: EMERGENCY_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
    ranking = [
        entry
        for entry in message.get(INTENT_RANKING_KEY) or []
        if entry.get(INTENT_NAME_KEY) != EMERGENCY_INTENT
    ]
    message.set(INTENT, emergency, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [emergency, *ranking], add_to_output=True)
    message.set(RED_FLAGS_KEY, sorted(set(flag_names)), add_to_output=True)


def mark_possible_emergency(message: Message) -> None:
    """Sets `nlu_fallback` on top of the ranking (the classifier's guess stays below it)."""
    fallback = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
    message.set(INTENT, fallback, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [fallback, *(message.get(INTENT_RANKING_KEY) or [])], add_to_output=True)
    message.set(POSSIBLE_EMERGENCY_KEY, True, add_to_output=True)
