"""Rasa NLU component: `language_switch` (en/es) on messages that switch the reply language.

The `language` slot picks the response variations; bot/language_policy.py sets it from this
property. It is set only when a message clearly is English or Spanish or asks for one
(bot/language.py); otherwise the slot keeps its value, so "ok" or "PRP" never flips it.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language import language_switch

LANGUAGE_SWITCH_KEY = "language_switch"
METADATA_KEY = "metadata"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class LanguageDetector(GraphComponent):
    """Adds `language_switch` to the parse data of messages that switch the conversation's language."""

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # training examples need no language mark

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            language = language_switch(message.get(TEXT) or "", message.get(METADATA_KEY))
            if language:
                message.set(LANGUAGE_SWITCH_KEY, language, add_to_output=True)
        return messages
