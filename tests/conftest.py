"""Shared fixtures: the spaCy pipeline, the trained model, and rasa-sdk tracker helpers."""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot import PROJECT_ROOT

MODEL_PATH = PROJECT_ROOT / "models" / "facet-assistant.tar.gz"
SPACY_PATH = PROJECT_ROOT / "build" / "spacy" / "en_facet_clinic"


@pytest.fixture(scope="session", autouse=True)
def private_booking_spool(tmp_path_factory):
    """No test (nor the servers it starts, which inherit the environment) writes to or drains the
    project's own var/booking-spool."""
    os.environ["BOOKING_SPOOL_DIR"] = str(tmp_path_factory.mktemp("booking-spool"))
    yield
    os.environ.pop("BOOKING_SPOOL_DIR", None)


@pytest.fixture
def verifications(monkeypatch) -> List[str]:
    """Counts real password checks: wraps the real verify_password, which still does the work."""
    calls: List[str] = []
    from bot.staff import accounts

    real = accounts.verify_password

    def counted(password: str, stored: str) -> bool:
        calls.append(password)
        return real(password, stored)

    monkeypatch.setattr(accounts, "verify_password", counted)
    return calls


@pytest.fixture(scope="session")
def spacy_nlp():
    import spacy

    return spacy.load(SPACY_PATH)


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def trained_agent():
    """The trained model, loaded in-process (NLU only is used; no action server needed)."""
    from rasa.core.agent import Agent

    if not MODEL_PATH.exists():
        pytest.fail(f"{MODEL_PATH} is missing: run `make train` (make test does).")
    return Agent.load(str(MODEL_PATH))


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def make_tracker(
    parse_data: Optional[Dict[str, Any]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
) -> Tracker:
    parse_data = parse_data or {
        "intent": {"name": "greet", "confidence": 1.0},
        "text": "hi",
    }
    events = (
        events
        if events is not None
        else [{"event": "user", "text": parse_data.get("text"), "parse_data": parse_data}]
    )
    return Tracker(
        sender_id="test-user",
        slots=slots or {"booking_offered": False},
        latest_message=parse_data,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def faq_parse(topic: str, confidence: float = 0.95, text: str = "question") -> Dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": "faq", "confidence": confidence},
        "intent_ranking": [{"name": "faq", "confidence": confidence}],
        "response_selector": {
            "faq": {
                "response": {"intent_response_key": f"faq/{topic}", "confidence": 0.9},
                "ranking": [{"intent_response_key": f"faq/{topic}", "confidence": 0.9}],
            }
        },
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def postgres_url():
    """URL of a throw-away database on the local PostgreSQL server (required in CI)."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"clinic_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable: {error}")
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
