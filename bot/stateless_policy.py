"""Base of the project's hand-written dialogue policies: nothing to learn, nothing to save."""

from __future__ import annotations

from typing import Any, List

from rasa.core.policies.policy import Policy
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates


class StatelessPolicy(Policy):
    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        return self._resource
