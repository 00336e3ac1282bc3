"""Every response the bot can send: no promises, honest about regenerative treatments, complete."""

from __future__ import annotations

import re
from typing import Iterator, Tuple

import pytest
import yaml

from bot import PROJECT_ROOT
from bot.evaluation import load_nlu_examples
from bot.topics import load_topics

FAQ_TOPICS = [
    "facet_joint_what", "facet_degeneration_what", "facet_causes", "facet_symptoms",
    "conventional_overview", "pain_medication", "physical_therapy", "steroid_injection",
    "diagnostic_injection", "radiofrequency_ablation", "regenerative_overview", "prp_what",
    "prp_procedure", "prp_evidence", "prp_timeline", "adrc", "whartons_jelly", "bone_marrow_msc",
    "relief_treatment", "advantages_vs_conventional", "candidacy", "cost_insurance",
    "safety_side_effects", "recovery_downtime", "questions_for_doctor", "clinic_location",
]  # fmt: skip
REGENERATIVE_TOPICS = [
    "regenerative_overview", "prp_what", "prp_procedure", "prp_evidence", "prp_timeline", "adrc",
    "whartons_jelly", "bone_marrow_msc", "relief_treatment", "advantages_vs_conventional",
    "safety_side_effects",
]  # fmt: skip
# Claims a medical FAQ must never make (FTC/FDA: no cure, guarantee or approval claims).
FORBIDDEN = re.compile(
    r"\b(cure[sd]?|curing|guarantee[sd]?|proven|permanent(ly)?|miracle|risk[- ]free|100 ?%)\b"
    r"|(?<!not )\bFDA[- ]approved\b|\bevidence[- ]backed\b",
    re.IGNORECASE,
)
# "you have X" reads as a diagnosis.
DIAGNOSIS = re.compile(
    r"(?<!if )\byou (have|are suffering from|suffer from|likely have|probably have) "
    r"(facet|arthritis|spinal|degenerat|sciatica|a (facet|pinched|herniat|bulging))",
    re.IGNORECASE,
)
ACTION_SOURCES = sorted((PROJECT_ROOT / "actions").glob("*.py")) + [PROJECT_ROOT / "bot" / "clinic.py"]


def domain_texts() -> Iterator[Tuple[str, str]]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    for name, variants in domain["responses"].items():
        for variant in variants:
            yield name, variant.get("text", "")
            for button in variant.get("buttons", []):
                yield f"{name} button", button["title"]


def action_texts() -> Iterator[Tuple[str, str]]:
    """String literals in the actions, which are also sent to patients."""
    for path in ACTION_SOURCES:
        for literal in re.findall(r'"([^"\n]{12,})"', path.read_text(encoding="utf-8")):
            yield path.name, literal


ALL_TEXTS = list(domain_texts()) + list(action_texts())


@pytest.mark.parametrize("name, text", ALL_TEXTS, ids=[name for name, _ in ALL_TEXTS])
def test_no_forbidden_claims(name, text):
    assert not FORBIDDEN.search(text), f"{name}: {FORBIDDEN.search(text).group(0)!r}"
    assert not DIAGNOSIS.search(text), f"{name} reads as a diagnosis"


def test_lint_catches_what_it_should():
    for bad in [
        "PRP can cure arthritis",
        "results guaranteed",
        "a proven therapy",
        "FDA-approved stem cells",
        "permanent relief",
    ]:
        assert FORBIDDEN.search(bad), bad
    assert not FORBIDDEN.search("It is not FDA-approved for this use and unproven")
    assert DIAGNOSIS.search("Based on this, you have facet arthritis.")
    assert not DIAGNOSIS.search("If you have an emergency, call 911.")


@pytest.fixture(scope="module")
def responses():
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def test_every_faq_topic_has_an_answer_examples_and_a_title(responses):
    examples = load_nlu_examples(PROJECT_ROOT / "data" / "nlu.yml")
    topics = load_topics()
    for topic in FAQ_TOPICS:
        assert f"utter_faq/{topic}" in responses, topic
        assert len(examples.get(f"faq/{topic}", [])) >= 15, topic
        assert topic in topics, topic
    assert sorted(key for key in examples if key.startswith("faq/")) == sorted(f"faq/{t}" for t in FAQ_TOPICS)


def test_button_questions_are_training_examples_of_their_topic():
    examples = load_nlu_examples(PROJECT_ROOT / "data" / "nlu.yml")
    for name, topic in load_topics().items():
        assert topic.question in examples[f"faq/{name}"], name


@pytest.mark.parametrize("topic", REGENERATIVE_TOPICS)
def test_regenerative_answers_say_investigational_and_results_vary(responses, topic):
    text = responses[f"utter_faq/{topic}"][0]["text"]
    assert "investigational" in text
    assert "not approved by the FDA" in text
    assert "results vary" in text


@pytest.mark.parametrize(
    "topic, figures",
    [
        ("prp_evidence", ["78 patients", "2024", "JAAOS", "Orthopedic Reviews"]),
        (
            "adrc",
            [
                "37 patients",
                "6.8",
                "1.4",
                "50-100 mL",
                "Journal of Personalized Medicine",
            ],
        ),
        ("bone_marrow_msc", ["10 million", "61-year-old", "Mayo Clinic", "2024"]),
        ("radiofrequency_ablation", ["six months to a year"]),
        ("prp_procedure", ["centrifuge", "CT or ultrasound"]),
    ],
)
def test_answers_keep_the_articles_figures(responses, topic, figures):
    text = responses[f"utter_faq/{topic}"][0]["text"]
    for figure in figures:
        assert figure in text, f"{topic} lost {figure!r}"


def test_emergency_answer_says_911_first(responses):
    text = responses["utter_emergency"][0]["text"]
    assert text.startswith("Please call 911")
    assert "emergency room" in text


def test_greeting_has_the_disclaimer(responses):
    text = responses["utter_greet"][0]["text"]
    for phrase in [
        "automated assistant",
        "general information",
        "medical advice",
        "911",
    ]:
        assert phrase in text


def test_candidacy_never_recommends(responses):
    text = responses["utter_faq/candidacy"][0]["text"]
    assert "can't say who is a candidate" in text
    assert "?" in text  # it lists questions to discuss
