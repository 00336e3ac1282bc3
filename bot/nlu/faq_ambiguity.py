"""Rasa NLU component: an FAQ whose answer topic is a toss-up becomes `nlu_fallback`.

Rasa's FallbackClassifier only looks at intents. For the retrieval intent `faq` the intent can be
certain while the topic is not ("ballpark cost for regenerative treatment" between cost and
overview). When the best topic is weak and the runner-up close, we ask "did you mean ...?"
(actions/clarify.py) instead of answering the wrong question.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message

FALLBACK_INTENT = "nlu_fallback"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class FaqAmbiguityFallback(GraphComponent):
    """Sets `nlu_fallback` when the top FAQ topic is below `threshold` and within `margin` of the next."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"retrieval_intent": "faq", "threshold": 0.4, "margin": 0.15}

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FaqAmbiguityFallback:
        return cls(config)

    def __init__(self, config: Dict[str, Any]) -> None:
        self._intent = config["retrieval_intent"]
        self._threshold = config["threshold"]
        self._margin = config["margin"]

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == self._intent and self._is_toss_up(message):
                fallback = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: self._threshold}
                message.set(INTENT, fallback, add_to_output=True)
                message.set(
                    INTENT_RANKING_KEY,
                    [fallback, *(message.get(INTENT_RANKING_KEY) or [])],
                    add_to_output=True,
                )
        return messages

    def _is_toss_up(self, message: Message) -> bool:
        ranking = ((message.get("response_selector") or {}).get(self._intent) or {}).get("ranking") or []
        if len(ranking) < 2:
            return False
        best, runner_up = ranking[0]["confidence"], ranking[1]["confidence"]
        return best < self._threshold and best - runner_up < self._margin
