"""A dialogue policy that answers an emergency first, in every state of the conversation.

Rasa's RulePolicy predicts an active form before any rule: an emergency said mid-form reaches the
"911" rule only after the form's validation (on the action server) rejects the message. With the
action server down or failing, that rejection never comes and the emergency went unanswered by the
dialogue (the channel's safety net still sent 911, but the form stayed open). This policy, above
every other in priority, makes the emergency turn the same everywhere, with no custom action:

    user: <intent emergency>  ->  utter_emergency  ->  action_deactivate_loop (if a form is open)
                              ->  action_listen

Outside an emergency turn it abstains (all zeros), leaving the decision to the other policies.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_DEACTIVATE_LOOP_NAME, ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.stateless_policy import StatelessPolicy

EMERGENCY_INTENT = "emergency"
EMERGENCY_RESPONSE = "utter_emergency"
# Above RulePolicy (6) and the follow-up policy (7): a tie at confidence 1.0 with the form's "happy
# path" goes to this policy.
EMERGENCY_PRIORITY = 8


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class EmergencyFirstPolicy(StatelessPolicy):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"priority": EMERGENCY_PRIORITY}

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = next_emergency_action(tracker)
        if action is None or action not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(action)] = 1.0
        # Rasa's ensemble lets "no user" predictions (RulePolicy's open-form path) overrule all
        # others; competing in that class, this policy then wins on priority.
        return self._prediction(probabilities, is_no_user_prediction=True)


def next_emergency_action(tracker: DialogueStateTracker) -> Optional[str]:
    """The next step of an emergency turn, or None when this is not one."""
    intent = (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None
    if intent != EMERGENCY_INTENT:
        return None
    done = actions_since_last_user_message(tracker)
    if EMERGENCY_RESPONSE not in done:
        return EMERGENCY_RESPONSE
    if tracker.active_loop_name:
        return ACTION_DEACTIVATE_LOOP_NAME
    if done[-1] != ACTION_LISTEN_NAME:
        return ACTION_LISTEN_NAME
    return None


def actions_since_last_user_message(tracker: DialogueStateTracker) -> List[str]:
    names: List[str] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, ActionExecuted) and event.action_name:
            names.append(event.action_name)
    return list(reversed(names))
