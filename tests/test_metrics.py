"""GET /metrics and what it counts (bot/metrics.py).

- The event broker, fed real Rasa event dicts (`Event.as_dict()` plus "sender_id", the shape the
  tracker store publishes), read back from prometheus_client's process-wide registry as deltas.
- The route and the HTTP middleware on the real Rasa app from bot.server.build_app, served on
  loopback without a model (route off without METRICS_TOKEN, 401 without the token, labels).
- End to end: the real action server and Rasa server with METRICS_TOKEN, three REST messages,
  then a scrape.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from typing import Dict, Iterator, List, Optional

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from sanic import Sanic

from bot import PROJECT_ROOT
from bot.metrics import (
    BOOKING_ACTION_STEPS,
    KNOWN_CHANNELS,
    MetricsEventBroker,
    path_channel,
)
from bot.settings import load_runtime_settings
from tests.sanic_server import http, serving

TOKEN = "metrics-test-token-0123456789abcdef"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Deltas:
    """Sample values before a block; `.of(name, **labels)` is the change since."""

    def __init__(self, *samples: tuple) -> None:
        self._before = {self._key(name, labels): value(name, **labels) for name, labels in samples}

    @staticmethod
    def _key(name: str, labels: Dict[str, str]) -> tuple:
        return name, tuple(sorted(labels.items()))

    def of(self, name: str, **labels: str) -> float:
        return value(name, **labels) - self._before[self._key(name, labels)]


def publish(broker: MetricsEventBroker, sender: str, *events: Event) -> None:
    for event in events:
        broker.publish({"sender_id": sender, **event.as_dict()})


def user(intent: str, text: str = "some text", channel: Optional[str] = "rest", **extra) -> UserUttered:
    parse_data = {"intent": {"name": intent, "confidence": 1.0}, "entities": [], "text": text, **extra}
    return UserUttered(text, parse_data["intent"], [], parse_data, input_channel=channel)


@pytest.fixture
def broker() -> MetricsEventBroker:
    return asyncio.run(MetricsEventBroker.from_endpoint_config(None))


# --- the event broker ---------------------------------------------------------------------------


def test_user_messages_are_counted_by_known_channel_only(broker):
    samples = [("clinic_user_messages_total", {"channel": c}) for c in ("sms", "rest", "other")]
    deltas = Deltas(*samples)
    publish(broker, "+13055550123", user("greet", "hi, call me at 305 555 0123", channel="sms"))
    publish(broker, "web-1", user("greet"), user("faq"))
    publish(broker, "api-1", user("greet", channel=None), user("greet", channel="carrier-pigeon-7"))
    assert deltas.of("clinic_user_messages_total", channel="sms") == 1
    assert deltas.of("clinic_user_messages_total", channel="rest") == 2
    assert deltas.of("clinic_user_messages_total", channel="other") == 2
    exposed = label_values(exposition())
    for secret in ("305", "555", "0123", "carrier-pigeon", "web-1", "call me"):
        assert not any(secret in label for label in exposed)


def exposition() -> str:
    from prometheus_client import generate_latest

    return generate_latest(REGISTRY).decode()


def label_values(text: str) -> set:
    """Every label value of an exposition (sample values are numbers: timestamps may hold any digits)."""
    return {
        label
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for label in sample.labels.values()
    }


def test_fallbacks_and_possible_emergencies(broker):
    deltas = Deltas(("clinic_nlu_fallbacks_total", {}), ("clinic_possible_emergencies_total", {}))
    publish(broker, "s1", user("nlu_fallback"), user("faq"))
    publish(broker, "s2", user("nlu_fallback", possible_emergency=True))
    assert deltas.of("clinic_nlu_fallbacks_total") == 2
    assert deltas.of("clinic_possible_emergencies_total") == 1


def clarification(*utterances: BotUttered) -> List[Event]:
    return [ActionExecuted("action_clarify"), *utterances, ActionExecuted("action_listen")]


def test_a_clarification_is_counted_by_what_the_patient_was_offered(broker):
    from actions.clarify import TEXTS

    outcomes = ("did_you_mean", "dead_end", "contact", "other")
    deltas = Deltas(*[("clinic_clarifications_total", {"outcome": o}) for o in outcomes])
    buttons = [
        {"title": "What PRP is", "payload": "What is PRP?"},
        {"title": "Something else", "payload": "/deny"},
    ]
    publish(broker, "a", *clarification(BotUttered(TEXTS("did_you_mean", "en"), {"buttons": buttons})))
    publish(broker, "b", *clarification(BotUttered(TEXTS("rephrase", "en"))))
    publish(broker, "c", *clarification(BotUttered(TEXTS("rephrase", "es"))))
    # The possible-emergency line comes first and decides nothing; "I didn't get that" does.
    possible = BotUttered(TEXTS("possible_emergency", "en"))
    publish(broker, "d", *clarification(possible, BotUttered(TEXTS("rephrase", "en"))))
    contact = TEXTS("still_unsure", "es", contact="Tel. 305-555-0100")
    publish(broker, "e", *clarification(BotUttered(contact)))
    publish(broker, "f", *clarification())  # the action server failed: no reply
    assert deltas.of("clinic_clarifications_total", outcome="did_you_mean") == 1
    assert deltas.of("clinic_clarifications_total", outcome="dead_end") == 3
    assert deltas.of("clinic_clarifications_total", outcome="contact") == 1
    assert deltas.of("clinic_clarifications_total", outcome="other") == 1


def test_a_clarification_whose_turn_is_still_arriving_is_counted_once_it_ends(broker):
    deltas = Deltas(("clinic_clarifications_total", {"outcome": "did_you_mean"}))
    publish(broker, "x", ActionExecuted("action_clarify"))
    publish(broker, "y", user("greet"))  # another conversation in between changes nothing
    publish(broker, "x", BotUttered("Did you mean:", {"buttons": [{"title": "a", "payload": "b"}]}))
    assert deltas.of("clinic_clarifications_total", outcome="did_you_mean") == 0
    publish(broker, "x", ActionExecuted("action_listen"))
    assert deltas.of("clinic_clarifications_total", outcome="did_you_mean") == 1


def test_emergency_and_out_of_scope_answers_are_counted(broker):
    deltas = Deltas(("clinic_emergency_answers_total", {}), ("clinic_out_of_scope_answers_total", {}))
    publish(broker, "oos", user("out_of_scope"), ActionExecuted("utter_out_of_scope"))
    publish(
        broker,
        "em",
        user("emergency"),
        ActionExecuted("utter_emergency"),
        BotUttered("Please call 911 now"),
        ActionExecuted("action_listen"),
    )
    assert deltas.of("clinic_emergency_answers_total") == 1
    assert deltas.of("clinic_out_of_scope_answers_total") == 1


def test_the_booking_funnel(broker):
    steps = ("offered", "started", "summary", "submitted", "cancelled", "interrupted")
    deltas = Deltas(*[("clinic_booking_steps_total", {"step": s}) for s in steps])
    publish(
        broker,
        "booker",
        ActionExecuted("action_faq_followup"),
        SlotSet("booking_offered", True),
        user("affirm"),
        ActionExecuted("action_start_booking"),
        SlotSet("booking_offered", False),
        ActionExecuted("booking_form"),
        ActiveLoop("booking_form"),
        ActionExecuted("booking_form"),
        ActiveLoop(None),
        ActionExecuted("action_booking_summary"),
        SlotSet("booking_stage", "summary"),
        ActionExecuted("action_submit_booking"),
        SlotSet("booking_stage", None),
        SlotSet("last_booking_ref", "FC-7Q2K"),
    )
    publish(
        broker, "quitter", ActionExecuted("action_start_booking"), ActionExecuted("action_cancel_booking")
    )
    publish(
        broker, "urgent", ActionExecuted("action_start_booking"), ActionExecuted("action_deactivate_loop")
    )
    expected = {"offered": 1, "started": 3, "summary": 1, "submitted": 1, "cancelled": 1, "interrupted": 1}
    assert {s: deltas.of("clinic_booking_steps_total", step=s) for s in steps} == expected


def test_language_switches_and_sessions(broker):
    samples = [("clinic_reply_language_switches_total", {"language": lang}) for lang in ("en", "es")]
    deltas = Deltas(*samples, ("clinic_conversation_sessions_total", {}))
    publish(
        broker,
        "es-1",
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        user("faq", "¿Qué es el PRP?"),
        SlotSet("language", "es"),
        SlotSet("language", "fr"),  # not a reply language: never a label
    )
    assert deltas.of("clinic_reply_language_switches_total", language="es") == 1
    assert deltas.of("clinic_reply_language_switches_total", language="en") == 0
    assert deltas.of("clinic_conversation_sessions_total") == 1
    assert "fr" not in label_values(exposition())


def test_odd_events_never_fail_the_turn(broker):
    for odd in ({}, {"event": "user", "parse_data": "garbage"}, {"event": "bot", "data": 7}, {"event": 3}):
        broker.publish(odd)
    assert broker.is_ready()
    asyncio.run(broker.close())


def test_names_match_the_dialogue_they_come_from(domain):
    """A renamed action, slot or intent would silently stop a counter: each name is checked here."""
    import bot.metrics as metrics
    from actions.booking import SUMMARY_STAGE
    from bot.emergency_policy import EMERGENCY_RESPONSE
    from bot.nlu.red_flags import FALLBACK_INTENT, POSSIBLE_EMERGENCY_KEY

    assert metrics.EMERGENCY_RESPONSE == EMERGENCY_RESPONSE and EMERGENCY_RESPONSE in domain["responses"]
    assert metrics.OUT_OF_SCOPE_RESPONSE in domain["responses"]
    assert (metrics.FALLBACK_INTENT, metrics.POSSIBLE_EMERGENCY_KEY) == (
        FALLBACK_INTENT,
        POSSIBLE_EMERGENCY_KEY,
    )
    assert metrics.SUMMARY_STAGE == SUMMARY_STAGE
    custom = {a for a in BOOKING_ACTION_STEPS if a != "action_deactivate_loop"} | {metrics.CLARIFY_ACTION}
    # An action is a name, or {name: {send_domain: ...}}.
    declared = {
        name for action in domain["actions"] for name in ([action] if isinstance(action, str) else action)
    }
    assert custom <= declared
    slots = {metrics.LANGUAGE_SLOT, metrics.BOOKING_OFFERED_SLOT, metrics.BOOKING_STAGE_SLOT}
    assert slots | {metrics.BOOKING_REFERENCE_SLOT} <= set(domain["slots"])
    assert list(domain["forms"]) == ["booking_form"]  # action_deactivate_loop only ever ends the booking


def test_every_channel_in_credentials_has_its_own_label():
    from rasa.shared.utils.common import class_from_module_path

    credentials = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text(encoding="utf-8"))
    names = {class_from_module_path(path).name() for path in credentials}
    assert names == KNOWN_CHANNELS
    assert {path_channel(f"/webhooks/{name}/webhook") for name in names - {"staff"}} == names - {"staff"}
    assert path_channel("/staff/login") == "staff"
    assert path_channel("/webhooks/../etc/passwd") == "other"
    assert path_channel("/conversations/+13055550123/tracker") == "other"


# --- the route and the HTTP middleware, on the real Rasa app (no model) ----------------------


@pytest.fixture
def rasa_app_url(monkeypatch, tmp_path):
    """bot.server.build_app served on loopback; call it with the METRICS_TOKEN to use."""
    monkeypatch.setattr(Sanic, "test_mode", True)  # Rasa names every app "rasa_server"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'clinic.db'}")
    started = []

    def start(token: str) -> str:
        from bot.server import build_app

        settings = load_runtime_settings(
            {
                "RASA_API_SECRET": "metrics-test-api-secret-" + "0" * 16,
                "ACTION_SERVER_TOKEN": "metrics-test-action-token",
                "TRACKER_DB": str(tmp_path / "tracker.db"),
                "METRICS_TOKEN": token,
            }
        )
        for name, setting in settings.rasa_environment().items():
            monkeypatch.setenv(name, setting)  # what endpoints.yml and credentials.yml expand
        serving_app = serving(build_app(settings))
        started.append(serving_app)
        return serving_app.__enter__()

    yield start
    for serving_app in started:
        serving_app.__exit__(None, None, None)
    Sanic._app_registry.pop("rasa_server", None)


def test_without_metrics_token_the_route_is_off(rasa_app_url):
    base_url = rasa_app_url("")
    assert http(base_url + "/metrics", headers={"Authorization": "Bearer "})[0] == 404
    assert http(base_url + "/metrics")[0] == 404


@pytest.mark.parametrize(
    "header",
    [None, "", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer", "Bearer é"],
    ids=["none", "empty", "longer", "shorter", "basic", "no-scheme", "scheme-only", "non-ascii"],
)
def test_a_wrong_or_missing_token_gets_401(rasa_app_url, header):
    base_url = rasa_app_url(TOKEN)
    status, headers, body = http(base_url + "/metrics", headers={"Authorization": header} if header else {})
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert "clinic_" not in body


def test_requests_are_counted_by_channel_and_status_class_never_by_path(rasa_app_url):
    base_url = rasa_app_url(TOKEN)
    probe = f"probe-{uuid.uuid4().hex}"
    samples = [
        ("clinic_http_requests_total", {"channel": "rest", "status": "2xx"}),
        ("clinic_http_requests_total", {"channel": "other", "status": "4xx"}),
        ("clinic_http_requests_total", {"channel": "health", "status": "5xx"}),
        ("clinic_http_requests_total", {"channel": "staff", "status": "2xx"}),
        ("clinic_http_request_duration_seconds_count", {"channel": "rest"}),
    ]
    deltas = Deltas(*samples)
    assert http(base_url + "/webhooks/rest/")[0] == 200  # the channel's own health route
    assert http(f"{base_url}/webhooks/{probe}/webhook")[0] == 404
    assert http(f"{base_url}/no/such/{probe}")[0] == 404
    assert http(base_url + "/health")[0] == 503  # no model loaded
    assert http(base_url + "/staff/login")[0] == 200
    assert deltas.of("clinic_http_requests_total", channel="rest", status="2xx") == 1
    assert deltas.of("clinic_http_requests_total", channel="other", status="4xx") == 2
    assert deltas.of("clinic_http_requests_total", channel="health", status="5xx") == 1
    assert deltas.of("clinic_http_requests_total", channel="staff", status="2xx") == 1
    assert deltas.of("clinic_http_request_duration_seconds_count", channel="rest") == 1
    status, headers, body = http(base_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert probe not in body  # "probe-" + hex: no number in the exposition can hold it
    assert "clinic_model_info{" not in body  # no model loaded yet
    openmetrics = {
        "Authorization": f"Bearer {TOKEN}",
        "Accept": "application/openmetrics-text; version=1.0.0",
    }
    status, headers, body = http(base_url + "/metrics", headers=openmetrics)
    assert status == 200 and headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n")


# --- end to end: the real servers -------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[object]:
    from bot.launcher import Servers, settings_with_ports
    from tests.conftest import free_port

    tmp = tmp_path_factory.mktemp("metrics")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("METRICS_TOKEN", TOKEN)  # the launcher passes its environment to both servers
        patch.setenv("DATABASE_URL", f"sqlite:///{tmp / 'clinic.db'}")
        settings = settings_with_ports(free_port(), free_port(), tmp / "tracker.db")
        assert settings.metrics_token == TOKEN
        with Servers(settings, log_dir=tmp / "logs") as running:
            yield running


def say(servers, sender: str, text: str) -> List[dict]:
    request = urllib.request.Request(
        servers.rest_url,
        data=json.dumps({"sender": sender, "message": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


def scrape(servers, token: Optional[str] = TOKEN) -> tuple:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(servers.demo_url + "metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples_of(text: str) -> Dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: Dict[tuple, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# Gibberish is usually declined as out of scope, not a fallback; so the fallback is the first of
# these NLU (asked through Rasa's /model/parse) really is unsure of, whatever the model's version.
FALLBACK_CANDIDATES = (
    "blorp zzkt wibble",
    "what about that one",
    "the doctor said something",
    "help me with the thing",
    "ok but what about the other one",
)


def intent_of(servers, text: str) -> str:
    from bot.staff.models import api_token

    request = urllib.request.Request(
        servers.demo_url + "model/parse",
        data=json.dumps({"text": text}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {api_token(servers.settings.api_secret)}",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read())["intent"]["name"]


@pytest.mark.e2e
def test_a_scrape_after_an_faq_an_emergency_gibberish_and_a_fallback(servers):
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    fallback = next((t for t in FALLBACK_CANDIDATES if intent_of(servers, t) == "nlu_fallback"), None)
    assert fallback is not None, "NLU is sure of every FALLBACK_CANDIDATES text: add an unsure one"
    status, body = scrape(servers)
    assert status == 200
    before = samples_of(body)

    messages = 4 if fallback != "blorp zzkt wibble" else 3
    run = uuid.uuid4().hex[:8]
    assert say(servers, f"metrics-faq-{run}", "What is PRP?")
    emergency = say(
        servers, f"metrics-emergency-{run}", "I can't control my bladder and my legs are going numb"
    )
    assert emergency[0]["text"].startswith("Please call 911")
    assert say(servers, f"metrics-gibberish-{run}", "blorp zzkt wibble")
    if fallback != "blorp zzkt wibble":
        assert say(servers, f"metrics-fallback-{run}", fallback)

    status, body = scrape(servers)
    assert status == 200
    after = samples_of(body)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("clinic_http_requests_total", channel="rest", status="2xx") == messages
    assert delta("clinic_http_requests_total", channel="metrics", status="2xx") == 1  # the first scrape
    assert delta("clinic_http_request_duration_seconds_count", channel="rest") == messages
    assert delta("clinic_user_messages_total", channel="rest") == messages
    assert delta("clinic_conversation_sessions_total") == messages  # one new conversation each
    assert delta("clinic_emergency_answers_total") == 1
    assert delta("clinic_nlu_fallbacks_total") == 1
    outcomes = ("did_you_mean", "dead_end", "contact", "other")
    assert sum(delta("clinic_clarifications_total", outcome=o) for o in outcomes) == 1
    model_id = LocalModelStorage.metadata_from_archive(servers.settings.model_path).model_id
    assert sample(after, "clinic_model_info", model_id=model_id) == 1
    assert sum(1 for name, _ in after if name == "clinic_model_info") == 1
    # Nothing a patient typed, nor who they are, in any label.
    exposed = label_values(body)
    for private in (run, "bladder", "blorp", "PRP", fallback):
        assert not any(private in label for label in exposed)

    assert scrape(servers, token=None)[0] == 401
    assert scrape(servers, token="not-the-token")[0] == 401
