"""A dialogue policy for bare follow-ups: "how long does it last?" right after the RFA answer.

One message alone says nothing about which treatment "it" is; the classifier sends "how long does
it take to work?" to PRP's timeline and "does it hurt?" to out_of_scope. Right after an answer about
a treatment, a follow-up that names no treatment is answered for the treatment under discussion:

    after radiofrequency_ablation:  "how long does it last?"  ->  utter_faq/radiofrequency_ablation
    after prp_what:                 "how many sessions?"      ->  utter_faq/prp_procedure
    after relief_treatment:         "does it hurt?"           ->  utter_faq/safety_side_effects

"Is it safe?", "how much is it?" and "where do I get it?" need no help: their answers (safety,
cost, location) cover every treatment. The policy predicts the topic's response itself, so Rasa
renders it (in the patient's language) without the action server, then `action_listen`. It abstains
(all zeros) otherwise, and during a form.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.emergency_policy import actions_since_last_user_message
from bot.stateless_policy import StatelessPolicy
from bot.text_normal import normalise

FAQ = "faq"
FAQ_RESPONSE = "utter_faq"
# Above RulePolicy (6), below EmergencyFirstPolicy.
FOLLOWUP_PRIORITY = 7

PRP_TOPICS = {"prp_what", "prp_procedure", "prp_evidence", "prp_timeline"}
TREATMENT_TOPICS = PRP_TOPICS | {
    "steroid_injection", "diagnostic_injection", "radiofrequency_ablation", "adrc", "whartons_jelly",
    "bone_marrow_msc", "relief_treatment", "physical_therapy", "pain_medication", "regenerative_overview",
}  # fmt: skip

# Bare follow-ups, on normalised text (lowercase, no accents), English and Spanish.
HOW_LONG = re.compile(
    r"\bhow (long|soon|fast|quickly)\b|\bwhen will (it|i)\b|\bcuanto (tiempo|tarda|dura)\b|\bcuando (hace|empieza)"
    r"|\bcuanto le dura\b|\bdura mucho\b"
)
HOW_MANY = re.compile(
    r"\bhow many\b|\bcuant[ao]s (sesiones|inyecciones|veces|tratamientos)\b|\bsessions?\b|\bsesiones\b"
)
HURT = re.compile(r"\b(hurt|hurts|painful|pain ?full|duele|doloros[oa]|molesta)\b")
# A message naming a treatment is not a bare follow-up: the classifier reads it as it is.
NAMES_A_TREATMENT = re.compile(
    r"\b(prp|plasma|platelet|plaquetas|rfa|ablation|ablacion|radiofrequency|radiofrecuencia|steroid|esteroide"
    r"|cortisone|cortisona|epidural|stem|madre|wharton|marrow|medula|adrc|fat|grasa|lipo\w*|relief|therapy"
    r"|terapia|fisioterapia|pt|block|bloqueo|nerve|nervio|medication|medicamento|pills?|pastillas?)\b"
)

# (topic under discussion) -> topic that answers "how long does it take / last?"
HOW_LONG_ANSWERS = {
    **{topic: "prp_timeline" for topic in PRP_TOPICS},
    "radiofrequency_ablation": "radiofrequency_ablation",  # relief may last six months to a year
    "steroid_injection": "steroid_injection",  # short term, diminishing returns
    "diagnostic_injection": "diagnostic_injection",  # brief relief
    "adrc": "adrc",  # the five-year study
    "bone_marrow_msc": "bone_marrow_msc",  # two years in the case report
    "relief_treatment": "recovery_downtime",  # no prolonged downtime
}
HOW_MANY_ANSWERS = {**{topic: "prp_procedure" for topic in PRP_TOPICS}}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class FollowUpInContextPolicy(StatelessPolicy):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"priority": FOLLOWUP_PRIORITY}

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = next_followup_action(tracker)
        if action is not None and action in domain.action_names_or_texts:
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)


def next_followup_action(tracker: DialogueStateTracker) -> Optional[str]:
    """The next step of a follow-up turn, or None when this is not one."""
    if tracker.active_loop_name or tracker.latest_message is None:
        return None
    done = actions_since_last_user_message(tracker)
    answered = [name for name in done if name.startswith(f"{FAQ_RESPONSE}/")]
    if answered:
        return ACTION_LISTEN_NAME if done[-1] != ACTION_LISTEN_NAME else None
    if any(name not in ("action_listen", "action_extract_slots") for name in done):
        return None
    topic = followup_topic(tracker.latest_message, previous_topic(tracker))
    return f"{FAQ_RESPONSE}/{topic}" if topic else None


def followup_topic(message: UserUttered, previous: Optional[str]) -> Optional[str]:
    """The topic that answers this message in the context of `previous`, if it is a bare follow-up."""
    intent = (message.intent or {}).get("name")
    text = normalise(message.text or "")
    if previous not in TREATMENT_TOPICS or intent in (None, "emergency") or NAMES_A_TREATMENT.search(text):
        return None
    if (message.parse_data or {}).get("possible_emergency"):  # 911 first: the clarification says it
        return None
    if len(text.split()) > 12:  # a story, not a follow-up
        return None
    if HOW_LONG.search(text) and previous in HOW_LONG_ANSWERS:
        return HOW_LONG_ANSWERS[previous]
    if HOW_MANY.search(text):
        return HOW_MANY_ANSWERS.get(previous, previous)
    if HURT.search(text):
        return "safety_side_effects"
    return None


def previous_topic(tracker: DialogueStateTracker) -> Optional[str]:
    """The FAQ topic the bot answered in the turn before this one, if that turn was an FAQ.

    Reads back from the end only as far as the previous user message: the cost does not grow with
    the conversation."""
    answered_faq = False
    seen_latest = False
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            if not seen_latest:
                seen_latest = True
                continue
            if not answered_faq:
                return None
            key = ((event.parse_data or {}).get("response_selector") or {}).get(FAQ, {}).get("response", {})
            return (key.get("intent_response_key") or "").split("/", 1)[-1] or None
        if seen_latest and isinstance(event, ActionExecuted) and event.action_name:
            if event.action_name.startswith(f"{FAQ_RESPONSE}/"):
                return event.action_name.split("/", 1)[1]
            answered_faq = answered_faq or event.action_name == FAQ_RESPONSE
    return None
