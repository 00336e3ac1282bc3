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
from bot.topics import load_topics

# Show "did you mean" only for guesses that are plausible and close to each other.
MIN_CANDIDATE_CONFIDENCE = 0.1
MAX_GAP_BETWEEN_TOP_TWO = 0.25
# After this many misunderstandings in a row, offer a person instead of another guess.
FAILURES_BEFORE_CONTACT = 2

INTENT_BUTTONS = {
    "book_appointment": {"title": "Book a visit", "payload": "/book_appointment"},
    "human_handoff": {"title": "Talk to the clinic", "payload": "/human_handoff"},
}
SOMETHING_ELSE = {"title": "Something else", "payload": "/deny"}
REPHRASE = (
    "Sorry, I didn't get that. Could you say it another way? "
    "I can answer questions about facet joint pain, its treatments and our clinic. "
    "If this is an emergency, call 911."
)
DID_YOU_MEAN = "I want to be sure I understood. If this is an emergency, call 911. Otherwise, did you mean:"


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


def button_for(candidate: str) -> Optional[Dict[str, str]]:
    if candidate.startswith("faq/"):
        topic = load_topics().get(candidate.split("/", 1)[1])
        return {"title": topic.title, "payload": topic.question} if topic else None
    return INTENT_BUTTONS.get(candidate)


def did_you_mean_buttons(candidates: List[Tuple[str, float]]) -> List[Dict[str, str]]:
    """Buttons for the top two guesses when both are plausible and close; else none."""
    plausible = [(name, score) for name, score in candidates if score >= MIN_CANDIDATE_CONFIDENCE]
    if len(plausible) < 2 or plausible[0][1] - plausible[1][1] > MAX_GAP_BETWEEN_TOP_TWO:
        return []
    buttons = [button for button in (button_for(name) for name, _ in plausible[:2]) if button]
    return buttons + [SOMETHING_ELSE] if len(buttons) == 2 else []


def choices_for(parse_data: Dict[str, Any]) -> List[Dict[str, str]]:
    """The "did you mean" buttons for an unsure message; [] means "I didn't get that" (a dead end)."""
    return topic_buttons(parse_data) or did_you_mean_buttons(ranked_candidates(parse_data))


def topic_buttons(parse_data: Dict[str, Any]) -> List[Dict[str, str]]:
    """Up to three plausible FAQ topics plus "Something else" (actions/did_you_mean.py); none when
    no topic is plausible, and only then does the patient get "I didn't get that"."""
    buttons = [
        button for button in (button_for(f"faq/{topic}") for topic in topics_to_offer(parse_data)) if button
    ]
    return buttons + [SOMETHING_ELSE] if buttons else []


class ActionClarify(Action):
    def name(self) -> str:
        return "action_clarify"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[Dict[str, Any]]:
        if consecutive_fallbacks(tracker) >= FAILURES_BEFORE_CONTACT:
            clinic = load_clinic_settings()
            dispatcher.utter_message(
                text=f"I'm sorry, I'm still not sure what you mean. If this is an emergency, call 911. Otherwise our staff can help directly.\n{clinic.contact_text()}"
            )
            return []
        buttons = choices_for(tracker.latest_message)
        if buttons:
            dispatcher.utter_message(text=DID_YOU_MEAN, buttons=buttons)
        else:
            dispatcher.utter_message(text=REPHRASE)
        return []
