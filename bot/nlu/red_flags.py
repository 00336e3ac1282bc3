"""Rasa NLU component: any message describing a red flag gets intent `emergency`.

It runs after the classifiers and the fallback, so `/model/parse` reports `emergency` for such
messages however the classifier scored them. It never lowers a classifier's `emergency`.
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
