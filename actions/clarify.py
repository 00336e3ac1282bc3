"""Low-confidence answers: "did you mean ...?" buttons, a request to rephrase, then contact.

"Did you mean" offers up to three plausible topics (actions/did_you_mean.py), else the two closest
guesses when they are close (intents such as "Book a visit" included); "I didn't get that" only
when nothing is plausible."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.did_you_mean import topics_to_offer
from actions.parse_data import ranked_candidates
from bot.clinic import load_clinic_settings
from bot.messages import Messages, tracker_language
from bot.topics import load_topics

# Show "did you mean" only for guesses that are plausible and close to each other.
MIN_CANDIDATE_CONFIDENCE = 0.1
MAX_GAP_BETWEEN_TOP_TWO = 0.25
# After this many misunderstandings in a row, offer a person instead of another guess.
FAILURES_BEFORE_CONTACT = 2

TEXTS = Messages(
    "clarify",
    {
        "rephrase": {
            "en": "Sorry, I didn't get that. Could you say it another way? "
            "I can answer questions about facet joint pain, its treatments and our clinic. "
            "If this is an emergency, call 911.",
            "es": "Disculpe, no le entendí. ¿Podría decirlo de otra manera? "
            "Puedo responder preguntas sobre el dolor de las articulaciones facetarias, sus "
            "tratamientos y nuestra clínica. Si es una emergencia, llame al 911.",
        },
        "did_you_mean": {
            "en": "I want to be sure I understood. If this is an emergency, call 911. Otherwise, did you mean:",
            "es": "Quiero asegurarme de haberle entendido. Si es una emergencia, llame al 911. "
            "Si no, ¿se refería a alguna de estas opciones?",
        },
        "still_unsure": {
            "en": "I'm sorry, I'm still not sure what you mean. If this is an emergency, call 911. "
            "Otherwise our staff can help directly.\n{contact}",
            "es": "Lo siento, todavía no logro entender lo que quiere decir. Si es una emergencia, "
            "llame al 911. Si no, nuestro personal puede ayudarle directamente.\n{contact}",
        },
        # First, when the classifier alone suspected an emergency the red-flag rules did not confirm
        # (bot/nlu/red_flags.py): 911 before anything else, without the full emergency answer.
        "possible_emergency": {
            "en": "If this is happening now and it is an emergency, call 911 or go to the nearest ER now.",
            "es": "Si esto le está pasando ahora y es una emergencia, llame al 911 o vaya a la sala de "
            "emergencias más cercana ahora.",
        },
        "book_appointment": {"en": "Book a visit", "es": "Pedir una cita"},
        "human_handoff": {"en": "Talk to the clinic", "es": "Hablar con la clínica"},
        "something_else": {"en": "Something else", "es": "Otra cosa"},
    },
)
INTENT_PAYLOADS = {"book_appointment": "/book_appointment", "human_handoff": "/human_handoff"}
INTENT_BUTTONS = {
    intent: {"title": TEXTS.en(intent), "payload": payload} for intent, payload in INTENT_PAYLOADS.items()
}
SOMETHING_ELSE = {"title": TEXTS.en("something_else"), "payload": "/deny"}
REPHRASE = TEXTS.en("rephrase")
DID_YOU_MEAN = TEXTS.en("did_you_mean")


def something_else(language: str = "en") -> Dict[str, str]:
    return {"title": TEXTS("something_else", language), "payload": "/deny"}


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the latest user messages in a row the bot did not understand."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != "nlu_fallback":
            break
        count += 1
    return count


def button_for(candidate: str, language: str = "en") -> Optional[Dict[str, str]]:
    """A topic's title sending its question (bot/topics.yml), or an intent's button."""
    if candidate.startswith("faq/"):
        topic = load_topics().get(candidate.split("/", 1)[1])
        return {"title": topic.title_in(language), "payload": topic.question_in(language)} if topic else None
    if candidate in INTENT_PAYLOADS:
        return {"title": TEXTS(candidate, language), "payload": INTENT_PAYLOADS[candidate]}
    return None


def did_you_mean_buttons(candidates: List[Tuple[str, float]], language: str = "en") -> List[Dict[str, str]]:
    """Buttons for the top two guesses when both are plausible and close; else none."""
    plausible = [(name, score) for name, score in candidates if score >= MIN_CANDIDATE_CONFIDENCE]
    if len(plausible) < 2 or plausible[0][1] - plausible[1][1] > MAX_GAP_BETWEEN_TOP_TWO:
        return []
    buttons = [button for button in (button_for(name, language) for name, _ in plausible[:2]) if button]
    return buttons + [something_else(language)] if len(buttons) == 2 else []


def choices_for(parse_data: Dict[str, Any], language: str = "en") -> List[Dict[str, str]]:
    """The "did you mean" buttons for an unsure message; [] means "I didn't get that" (a dead end)."""
    return topic_buttons(parse_data, language) or did_you_mean_buttons(
        ranked_candidates(parse_data), language
    )


def topic_buttons(parse_data: Dict[str, Any], language: str = "en") -> List[Dict[str, str]]:
    """Up to three plausible FAQ topics plus "Something else" (actions/did_you_mean.py); none when
    no topic is plausible, and only then does the patient get "I didn't get that"."""
    buttons = [
        button
        for button in (button_for(f"faq/{topic}", language) for topic in topics_to_offer(parse_data))
        if button
    ]
    return buttons + [something_else(language)] if buttons else []


class ActionClarify(Action):
    def name(self) -> str:
        return "action_clarify"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[Dict[str, Any]]:
        language = tracker_language(tracker)
        if (tracker.latest_message or {}).get("possible_emergency"):
            dispatcher.utter_message(text=TEXTS("possible_emergency", language))
        if consecutive_fallbacks(tracker) >= FAILURES_BEFORE_CONTACT:
            contact = load_clinic_settings().contact_text(language)
            dispatcher.utter_message(text=TEXTS("still_unsure", language, contact=contact))
            return []
        buttons = choices_for(tracker.latest_message, language)
        if buttons:
            dispatcher.utter_message(text=TEXTS("did_you_mean", language), buttons=buttons)
        else:
            dispatcher.utter_message(text=TEXTS("rephrase", language))
        return []
