"""Ends an FAQ turn without the action server unless the topic needs it.

After `utter_faq` (the answer, rendered by Rasa from domain.yml), a few topics go on to
`action_faq_followup`: clinic details and an offer to book a visit, for the topics after which a
patient is likely ready to talk to the clinic. Every other topic goes straight back to listening.
A rule cannot tell topics apart, so before this policy every FAQ paid for an action-server round
trip (the whole tracker and domain posted, the reply validated) to learn "nothing to add"; that
was a third of the server's time under load (docs/performance.md, profile). Here the decision is a
set lookup, and a stale `booking_offered` flag is cleared on the way, as the action did.

It also ends the turn after the offer (`action_listen`): stories cannot say where the offer
comes, so no rule or story does. Abstains during a form (the form's own rules answer FAQs there)
and everywhere else.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import FULL_RETRIEVAL_INTENT_NAME_KEY

from bot.emergency_policy import actions_since_last_user_message
from bot.stateless_policy import StatelessPolicy
from bot.topics import OFFER_BOOKING_AFTER

FAQ_RESPONSE = "utter_faq"
FAQ_FOLLOWUP_ACTION = "action_faq_followup"
BOOKING_OFFERED_SLOT = "booking_offered"
# Above RulePolicy (6) and the learned policies, below EmergencyFirstPolicy.
FAQ_TURN_PRIORITY = 7


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class FaqTurnPolicy(StatelessPolicy):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"priority": FAQ_TURN_PRIORITY}

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        done = [] if tracker.active_loop_name else actions_since_last_user_message(tracker)
        if done[-2:] == [FAQ_RESPONSE, FAQ_FOLLOWUP_ACTION]:  # the offer ends the turn (no rule says so)
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
            return self._prediction(probabilities)
        if done[-1:] != [FAQ_RESPONSE]:
            return self._prediction(probabilities)
        if answered_topic(tracker) in OFFER_BOOKING_AFTER:
            probabilities[domain.index_for_action(FAQ_FOLLOWUP_ACTION)] = 1.0
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        # "Yes" after this answer must not book from an offer made turns ago.
        events = [SlotSet(BOOKING_OFFERED_SLOT, False)] if tracker.get_slot(BOOKING_OFFERED_SLOT) else []
        return self._prediction(probabilities, events=events)


def answered_topic(tracker: DialogueStateTracker) -> Optional[str]:
    """The topic of the latest message ('relief_treatment'): Rasa copies the response selector's
    choice into the intent as `faq/relief_treatment`, as test stories write it."""
    message = tracker.latest_message
    name = (message.intent or {}).get(FULL_RETRIEVAL_INTENT_NAME_KEY) if message else None
    return name.split("/", 1)[1] if name and name.startswith("faq/") else None
