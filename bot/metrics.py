"""Prometheus metrics of the Rasa server: `GET /metrics`, per process (Prometheus text format, or
OpenMetrics when the scraper asks for it).

The route needs `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise); with METRICS_TOKEN unset
or empty it is not registered at all (404). Each replica is one process with one Sanic worker, so
every replica is scraped on its own and the default registry is enough. No label ever carries a
sender id, a message text or a phone number: every label value comes from a small fixed set.

HTTP (a request/response middleware pair on the Rasa app):
- clinic_http_requests_total{channel, status}  requests answered; `channel` is the channel name from
  `/webhooks/<name>/...` (rest, sms, whatsapp, widget), "staff" for `/staff...`, "health",
  "metrics", or "other" (never the raw path); `status` is the class: "2xx", "4xx", "5xx" ...
- clinic_http_request_duration_seconds{channel}  histogram, request middleware to response
  middleware, buckets from 5 ms to 10 s.

Dialogue (MetricsEventBroker, the event broker in endpoints.yml: Rasa's tracker store publishes
every new event of a conversation to it, in order):
- clinic_user_messages_total{channel}  user messages by input channel (rest, sms, whatsapp,
  widget, staff, or "other": the HTTP API, unknown channels).
- clinic_reply_language_switches_total{language}  the `language` slot set to "en" or "es". The
  slot is only set when a message switches the reply language, so this counts switches (a Spanish
  conversation has at least one); per-message language is not in the events.
- clinic_conversation_sessions_total  conversation sessions started.
- clinic_nlu_fallbacks_total  user messages NLU was unsure of (intent nlu_fallback).
- clinic_possible_emergencies_total  of those, the ones the classifier took for an emergency that
  the red-flag rules did not confirm (bot/nlu/red_flags.py): the clarification says 911 first.
- clinic_clarifications_total{outcome}  runs of action_clarify (NLU or dialogue fallback) by what
  the patient was offered: "did_you_mean" (buttons to pick), "dead_end" ("I didn't get that",
  nothing to pick: what scripts/evaluate.py counts as a dead end), "contact" (misunderstood
  again: the clinic's contact instead), "other" (no known reply, e.g. the action server failed).
- clinic_emergency_answers_total  emergency answers given (utter_emergency, bot/emergency_policy.py).
- clinic_out_of_scope_answers_total  messages declined as outside what the assistant answers
  (utter_out_of_scope; gibberish usually lands here, not in a fallback).
- clinic_booking_steps_total{step}  the booking funnel: "offered" (booking_offered set true after
  an answer), "started" (action_start_booking, which opens the form), "summary" (every answer
  given, the summary shown), "submitted" (a request stored or spooled: the patient got a
  reference), "cancelled" (action_cancel_booking), "interrupted" (the form closed by an emergency
  or a hand-off). Patients who simply stop answering leave no event and are not counted.
- clinic_model_info{model_id}  1 for the model the server answers with, read at scrape time
  (a model pulled from the model server or swapped by staff replaces the label).
Plus prometheus_client's own process_* and python_* metrics (memory, CPU, open files, GC).

Not visible here: answers the channels give without the dialogue (bot/channels/common.py: the 911
answer or the apology when Rasa fails or misses its deadline) are neither events nor HTTP errors.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Dict, FrozenSet, Optional

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import RuntimeSettings

logger = logging.getLogger(__name__)

# Channel names a label may carry (credentials.yml; tests/test_metrics.py keeps them in step).
# Any other name, e.g. a probe of /webhooks/<random>/, becomes "other": label values stay bounded.
KNOWN_CHANNELS: FrozenSet[str] = frozenset({"rest", "sms", "whatsapp", "widget", "staff"})
OTHER = "other"
LANGUAGES: FrozenSet[str] = frozenset({"en", "es"})

# Names from the dialogue (domain.yml, data/rules.yml, bot/emergency_policy.py, actions/);
# tests/test_metrics.py checks each against its source.
FALLBACK_INTENT = "nlu_fallback"
POSSIBLE_EMERGENCY_KEY = "possible_emergency"
EMERGENCY_RESPONSE = "utter_emergency"
OUT_OF_SCOPE_RESPONSE = "utter_out_of_scope"
CLARIFY_ACTION = "action_clarify"
BOOKING_ACTION_STEPS = {
    "action_start_booking": "started",
    "action_cancel_booking": "cancelled",
    # Only the booking form is ever deactivated this way (an emergency or a hand-off mid-form).
    "action_deactivate_loop": "interrupted",
}
LANGUAGE_SLOT = "language"
BOOKING_OFFERED_SLOT = "booking_offered"
BOOKING_STAGE_SLOT = "booking_stage"
SUMMARY_STAGE = "summary"
BOOKING_REFERENCE_SLOT = "last_booking_ref"

# A clarification waits for the utterances that follow it (its outcome); at most this many
# conversations at once, so a flood of unfinished turns cannot grow memory.
MAX_PENDING_CLARIFICATIONS = 1000

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "clinic_http_requests", "HTTP requests answered, by channel and status class", ["channel", "status"]
)
HTTP_LATENCY = Histogram(
    "clinic_http_request_duration_seconds",
    "Time from request to response, by channel",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
USER_MESSAGES = Counter("clinic_user_messages", "User messages, by input channel", ["channel"])
LANGUAGE_SWITCHES = Counter(
    "clinic_reply_language_switches", "Reply language switched to en or es", ["language"]
)
SESSIONS = Counter("clinic_conversation_sessions", "Conversation sessions started")
NLU_FALLBACKS = Counter("clinic_nlu_fallbacks", "User messages NLU was unsure of (nlu_fallback)")
POSSIBLE_EMERGENCIES = Counter(
    "clinic_possible_emergencies", "Unsure messages the classifier alone took for an emergency"
)
CLARIFICATIONS = Counter(
    "clinic_clarifications", "Clarifications (action_clarify) by what the patient was offered", ["outcome"]
)
EMERGENCY_ANSWERS = Counter("clinic_emergency_answers", "Emergency answers given (utter_emergency)")
OUT_OF_SCOPE_ANSWERS = Counter(
    "clinic_out_of_scope_answers", "Messages declined as out of scope (utter_out_of_scope)"
)
BOOKING_STEPS = Counter("clinic_booking_steps", "Booking funnel steps", ["step"])
MODEL_INFO = Gauge("clinic_model_info", "The model this server answers with", ["model_id"])


def channel_label(name: Optional[str]) -> str:
    return name if name in KNOWN_CHANNELS else OTHER


def path_channel(path: str) -> str:
    """The channel label of a request path; never the path itself."""
    parts = path.strip("/").split("/")
    if parts[0] == "webhooks" and len(parts) > 1:
        return channel_label(parts[1])
    if parts[0] == "staff":  # the staff console's prefix is not under /webhooks/
        return "staff"
    if len(parts) == 1 and parts[0] in ("health", "metrics"):
        return parts[0]
    return OTHER


def status_class(status: int) -> str:
    return f"{status // 100}xx"


# --- HTTP -----------------------------------------------------------------------------------


async def _start_timer(request: Request) -> None:
    # Sanic runs request middleware again when a handler raises; the first start time counts.
    if not hasattr(request.ctx, "metrics_started"):
        request.ctx.metrics_started = time.perf_counter()


async def _record_response(request: Request, reply: HTTPResponse) -> None:
    channel = path_channel(request.path)
    HTTP_REQUESTS.labels(channel=channel, status=status_class(reply.status)).inc()
    started = getattr(request.ctx, "metrics_started", None)
    # None when an earlier request middleware answered first (no timing, still counted).
    if started is not None:
        HTTP_LATENCY.labels(channel=channel).observe(time.perf_counter() - started)


def bearer_token_matches(header: Optional[str], token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    # compare_digest: the time taken does not tell how much of a guess was right. Bytes, because
    # Sanic hands over non-ASCII header bytes as surrogates (a str comparison would raise: a 500).
    guess = given.strip().encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(guess, token.encode("utf-8"))


def refresh_model_info(agent: Any) -> None:
    """clinic_model_info carries exactly the model loaded now (none before the first load)."""
    model_id = agent.model_id if agent is not None and agent.is_ready() else None
    MODEL_INFO.clear()
    if model_id:
        MODEL_INFO.labels(model_id=model_id).set(1)


def install_metrics(app: Sanic, settings: RuntimeSettings) -> None:
    """Measures every request of `app`; adds GET /metrics when settings.metrics_token is set."""
    app.register_middleware(_start_timer, "request")
    app.register_middleware(_record_response, "response")
    token = settings.metrics_token
    if not token:
        logger.info("METRICS_TOKEN is not set: GET /metrics is off.")
        return

    async def metrics(request: Request) -> HTTPResponse:
        if not bearer_token_matches(request.headers.get("Authorization"), token):
            return response.text(
                "Unauthorized", status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
            )
        refresh_model_info(getattr(request.app.ctx, "agent", None))
        # The format the scraper asks for (Prometheus text 0.0.4 by default, or OpenMetrics), as
        # prometheus_client's own HTTP handler chooses it.
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return response.raw(encode(REGISTRY), headers={"Content-Type": content_type})

    app.add_route(metrics, "/metrics", methods=["GET"], name="clinic_metrics")


# --- Dialogue -------------------------------------------------------------------------------


def _rephrase_texts() -> FrozenSet[str]:
    """actions/clarify.py's "I didn't get that" in every language (the dead end's only mark in
    the events: the action sends its texts, not their keys)."""
    try:
        from actions.clarify import TEXTS
        from bot.language import LANGUAGES as REPLY_LANGUAGES
    except Exception:  # the action code missing from this image: outcomes still split on buttons
        logger.warning("actions.clarify is not importable: dead ends are counted as 'other'.")
        return frozenset()
    return frozenset(TEXTS("rephrase", language) for language in REPLY_LANGUAGES)


def _contact_prefixes() -> FrozenSet[str]:
    try:
        from actions.clarify import TEXTS
        from bot.language import LANGUAGES as REPLY_LANGUAGES
    except Exception:
        return frozenset()
    # The text ends with the clinic's contact details ({contact}); its fixed start identifies it.
    marker = "\x00"
    return frozenset(
        TEXTS("still_unsure", language, contact=marker).split(marker)[0] for language in REPLY_LANGUAGES
    )


class MetricsEventBroker(EventBroker):
    """Counts dialogue outcomes from the events Rasa stores (endpoints.yml:
    `event_broker: {type: bot.metrics.MetricsEventBroker}`). Nothing leaves the process."""

    def __init__(self) -> None:
        # sender id -> the outcome seen so far of a clarification whose utterances are arriving.
        self._pending: "OrderedDict[str, str]" = OrderedDict()
        # Rasa publishes from the event loop today; a store that saved from worker threads would
        # interleave turns, so the pending clarifications are guarded anyway.
        self._lock = threading.Lock()
        self._rephrase = _rephrase_texts()
        self._contact = _contact_prefixes()

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: Optional[EndpointConfig], event_loop: Any = None
    ) -> "MetricsEventBroker":
        return cls()

    def publish(self, event: Dict[str, Any]) -> None:
        # Rasa calls this while saving a conversation: a failure here must not fail the turn.
        try:
            with self._lock:
                self._count(event)
        except Exception as error:
            logger.warning("Could not count an event for metrics (%s).", type(error).__name__)

    def is_ready(self) -> bool:
        return True

    async def close(self) -> None:
        self._pending.clear()

    def _count(self, event: Dict[str, Any]) -> None:
        kind = event.get("event")
        sender = str(event.get("sender_id"))
        if kind == "bot":
            self._note_utterance(sender, event)
            return
        self._finish_clarification(sender)
        if kind == "user":
            self._count_user_message(event)
        elif kind == "action":
            self._count_action(sender, event.get("name"))
        elif kind == "slot":
            self._count_slot(event.get("name"), event.get("value"))
        elif kind == "session_started":
            SESSIONS.inc()

    def _count_user_message(self, event: Dict[str, Any]) -> None:
        USER_MESSAGES.labels(channel=channel_label(event.get("input_channel"))).inc()
        parse_data = event.get("parse_data") or {}
        if (parse_data.get("intent") or {}).get("name") == FALLBACK_INTENT:
            NLU_FALLBACKS.inc()
            if parse_data.get(POSSIBLE_EMERGENCY_KEY):
                POSSIBLE_EMERGENCIES.inc()

    def _count_action(self, sender: str, name: Optional[str]) -> None:
        if name == EMERGENCY_RESPONSE:
            EMERGENCY_ANSWERS.inc()
        elif name == OUT_OF_SCOPE_RESPONSE:
            OUT_OF_SCOPE_ANSWERS.inc()
        elif name == CLARIFY_ACTION:
            self._pending[sender] = OTHER
            while len(self._pending) > MAX_PENDING_CLARIFICATIONS:
                self._pending.popitem(last=False)
        elif name in BOOKING_ACTION_STEPS:
            BOOKING_STEPS.labels(step=BOOKING_ACTION_STEPS[name]).inc()

    def _count_slot(self, name: Optional[str], value: Any) -> None:
        if name == LANGUAGE_SLOT and value in LANGUAGES:
            LANGUAGE_SWITCHES.labels(language=value).inc()
        elif name == BOOKING_OFFERED_SLOT and value is True:
            BOOKING_STEPS.labels(step="offered").inc()
        elif name == BOOKING_STAGE_SLOT and value == SUMMARY_STAGE:
            BOOKING_STEPS.labels(step="summary").inc()
        elif name == BOOKING_REFERENCE_SLOT and value:
            BOOKING_STEPS.labels(step="submitted").inc()

    def _note_utterance(self, sender: str, event: Dict[str, Any]) -> None:
        """A clarification's utterances decide its outcome; the first telling one wins (the
        possible-emergency "call 911" line that may come first tells nothing)."""
        if self._pending.get(sender) != OTHER:
            return
        text = event.get("text") or ""
        if (event.get("data") or {}).get("buttons"):
            self._pending[sender] = "did_you_mean"
        elif text in self._rephrase:
            self._pending[sender] = "dead_end"
        elif any(text.startswith(prefix) for prefix in self._contact):
            self._pending[sender] = "contact"

    def _finish_clarification(self, sender: str) -> None:
        outcome = self._pending.pop(sender, None)
        if outcome is not None:
            CLARIFICATIONS.labels(outcome=outcome).inc()
