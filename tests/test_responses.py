"""Every text the bot can send: no promises, honest about regenerative treatments, safe fallbacks,
complete.

The texts are the domain's responses plus the sentences written in Python (actions, channels,
clinic contact block), read from the source with `ast` so that f-strings and implicitly joined
literals are linted as the whole sentences a patient gets.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.booking import MAX_FAILED_ANSWERS, ValidateBookingForm
from actions.clarify import REPHRASE, ActionClarify
from actions.faq_more import NOTHING_TO_EXPAND
from bot import PROJECT_ROOT
from bot.channels import rest, twilio
from bot.channels.common import trouble_text
from bot.clinic import load_clinic_settings
from bot.evaluation import load_nlu_examples
from bot.topics import load_topics
from tests.conftest import make_tracker

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
# Claims a medical FAQ must never make (FTC/FDA: no cure, guarantee or approval claims), in
# English and Spanish. A caveat ("not FDA-approved", "no está aprobado por la FDA") is fine.
FORBIDDEN = re.compile(
    r"\b(cure[sd]?|curing|guarantee[sd]?|proven|permanent(ly)?|miracle|risk[- ]free)\b"
    r"|\b100 ?%"  # no \b after "%": "100% safe" has no word boundary there
    r"|(?<!not )\bFDA[- ]approved\b|\bevidence[- ]backed\b"
    r"|\b(cura[rns]?|curará|curad[oa]s?|curativ[oa]s?|garantiza\w*)\b"
    r"|(?<!no )(?<!no está )(?<!no están )\baprobad[oa]s? por la FDA\b"
    r"|\bregenera(r|n)? (el|los) cart[ií]lagos?\b"
    r"|\bsin riesgos?\b",
    re.IGNORECASE,
)
# "you have X" reads as a diagnosis.
DIAGNOSIS = re.compile(
    r"(?<!if )\byou (have|are suffering from|suffer from|likely have|probably have) "
    r"(facet|arthritis|spinal|degenerat|sciatica|a (facet|pinched|herniat|bulging))",
    re.IGNORECASE,
)
# "Rebuild" and "repair" state a result unless the same sentence hedges them, as the article does
# ("aim to rebuild", "designed to repair", "may ... stimulate tissue repair").
REPAIR_CLAIM = re.compile(r"\b(rebuil[dt]\w*|repair\w*)\b", re.IGNORECASE)
HEDGE = re.compile(
    r"\b(may|might|could|aims?|aimed|aiming|designed to|meant to|intended to|seeks? to"
    r"|(is|are) thought to|suggest(s|ed)?|(studies|study|trials?) (have )?reported)\b",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
# What every fallback, clarification and error text carries.
EMERGENCY_ADVICE = "If this is an emergency, call 911."
# A text that apologises, asks to rephrase or cannot use the message is a fallback.
FALLBACK = re.compile(
    r"\bsorry\b|didn't (get|understand)|not sure what you mean|want to be sure I understood"
    r"|another way|in other words|shorter message|only read text|type your question"
    r"|text me your question|technical trouble|went wrong|could not save",
    re.IGNORECASE,
)
RED_FLAG_WORDS = re.compile(r"\b(bladder|bowel|groin|saddle|fever|chest pain)\b", re.IGNORECASE)
RED_FLAG_ADVICE = "call 911 or go to the nearest ER now"
# RELIEF is offered at the clinic; nothing may present it as the clinic's own or its invention.
RELIEF_OWNERSHIP = re.compile(
    r"\b(our|clinic's)\s+(own|RELIEF|(\w+\s+){0,3}treatment)\b|\bdeveloped by\b|\bproprietary\b",
    re.IGNORECASE,
)


def english(variants: List[dict]) -> List[dict]:
    """The English variants of a response (the Spanish ones carry a `language` condition and are
    checked the same way in tests/test_response_parity.py)."""
    return [variant for variant in variants if not variant.get("condition")]


def domain_texts() -> Iterator[Tuple[str, str]]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    for name, variants in domain["responses"].items():
        for variant in variants:
            channel = f" ({variant['channel']})" if variant.get("channel") else ""
            yield f"{name}{channel}", variant.get("text", "")
            for button in variant.get("buttons", []):
                yield f"{name}{channel} button", button["title"]


# --- texts written in Python -------------------------------------------------------------------

CODE_SOURCES = (
    sorted((PROJECT_ROOT / "actions").glob("*.py"))
    + sorted((PROJECT_ROOT / "bot" / "channels").glob("*.py"))
    + [PROJECT_ROOT / "bot" / "clinic.py"]
)
PLACEHOLDER = "{...}"  # an interpolated value that is not a string constant of the module
LOGGERS = {"logger", "logging", "log"}  # log messages never reach a patient
TWO_WORDS = re.compile(r"[^\W\d_]\S*\s+\S*[^\W\d_]")  # a phrase, not a key or a format


def _render(node: ast.AST, constants: Dict[str, str]) -> Optional[str]:
    """The text a string expression produces: literals, f-strings (module string constants filled
    in, anything else a placeholder) and `+` concatenations; None if it is not a string."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
            elif isinstance(part.value, ast.Name) and part.value.id in constants:
                parts.append(constants[part.value.id])
            else:
                parts.append(PLACEHOLDER)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _render(node.left, constants), _render(node.right, constants)
        if left is None and right is None:
            return None
        return (PLACEHOLDER if left is None else left) + (PLACEHOLDER if right is None else right)
    return None


def _string_constants(tree: ast.Module) -> Dict[str, str]:
    constants: Dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            text = _render(node.value, constants)
            if text is not None:
                constants[node.targets[0].id] = text
    return constants


def _docstrings(tree: ast.Module) -> Set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _is_log_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in LOGGERS
    )


def texts_in_module(path: Path) -> List[Tuple[str, str]]:
    """Every phrase-like string expression of a module but docstrings and log messages.

    All of them, not just the ones known to reach patients (constants, utter_message texts,
    InvalidAnswer messages, returned apologies...): a new way of sending a text is then covered
    without touching this test, and linting a text no patient sees costs nothing.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = _string_constants(tree)
    skip = _docstrings(tree)
    found: List[Tuple[str, str]] = []

    def visit(node: ast.AST) -> None:
        if _is_log_call(node) or id(node) in skip:
            return
        text = _render(node, constants)
        if text is not None:
            if TWO_WORDS.search(text):
                found.append((f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}", text))
            if not isinstance(node, ast.JoinedStr):
                return
        for child in ast.iter_child_nodes(node):
            if not (isinstance(node, ast.JoinedStr) and isinstance(child, ast.Constant)):
                visit(child)  # expressions inside an f-string may hold texts of their own

    visit(tree)
    return found


def code_texts() -> Iterator[Tuple[str, str]]:
    for path in CODE_SOURCES:
        yield from texts_in_module(path)


DOMAIN_TEXTS = list(domain_texts())
CODE_TEXTS = list(code_texts())
ALL_TEXTS = DOMAIN_TEXTS + CODE_TEXTS


def unhedged_repair_claims(text: str) -> List[str]:
    """Sentences that say treatments rebuild or repair something without a hedge."""
    return [
        sentence
        for sentence in SENTENCE_END.split(text)
        if REPAIR_CLAIM.search(sentence) and not HEDGE.search(sentence)
    ]


@pytest.mark.parametrize("name, text", ALL_TEXTS, ids=[name for name, _ in ALL_TEXTS])
def test_no_forbidden_claims(name, text):
    assert not FORBIDDEN.search(text), f"{name}: {FORBIDDEN.search(text).group(0)!r}"
    assert not DIAGNOSIS.search(text), f"{name} reads as a diagnosis"
    assert not unhedged_repair_claims(text), f"{name}: unhedged {unhedged_repair_claims(text)}"


def test_lint_catches_what_it_should():
    for bad in [
        "PRP can cure arthritis",
        "results guaranteed",
        "a proven therapy",
        "FDA-approved stem cells",
        "permanent relief",
        "100% safe",
        "It works 100 % of the time.",
        # Spanish
        "El PRP cura la artritis.",
        "Puede curar el dolor de espalda.",
        "La clínica garantiza resultados.",
        "Resultado garantizado.",
        "Un tratamiento aprobado por la FDA.",
        "Regenera el cartílago de la articulación.",
        "Es un procedimiento sin riesgos.",
        "Funciona al 100%.",
    ]:
        assert FORBIDDEN.search(bad), bad
    for fine in [
        "It is not FDA-approved for this use and unproven",
        "No está aprobado por la FDA para este uso.",
        "Procure to ask your doctor; accurate answers need an exam.",
        "Los resultados varían.",
    ]:
        assert not FORBIDDEN.search(fine), fine
    assert DIAGNOSIS.search("Based on this, you have facet arthritis.")
    assert not DIAGNOSIS.search("If you have an emergency, call 911.")


def test_repair_and_rebuild_need_a_hedge_in_the_same_sentence():
    for claim in [
        "PRP repairs damaged cartilage.",
        "Stem cells rebuild the joint.",
        "These cells rebuilt her facet joint. They may help others.",  # hedge in another sentence
        "The treatment repaired the tissue",
        "It promotes tissue repair and lasting relief!",
    ]:
        assert unhedged_repair_claims(claim), claim
    for hedged in [
        "Regenerative medicine aims to repair or rebuild joint cartilage.",
        "Treatments designed to repair or rebuild cartilage.",
        "Growth factors may reduce inflammation and help tissue repair.",
        "They might help rebuild tissue.",
        "Studies reported tissue repair in some patients.",
        "The study suggests ADRCs can help rebuild joint structures.",
        "Healing is thought to repair the joint lining.",
        "PRP could support repair.",
    ]:
        assert not unhedged_repair_claims(hedged), hedged


def test_the_code_lint_reads_the_texts_patients_get():
    """The collector must see sentences built every way the code builds them, and skip logs."""
    texts = [text for _, text in CODE_TEXTS]
    assert REPHRASE in texts  # a module constant
    assert rest.TOO_LONG_REPLY in texts  # implicit join inside a message table
    assert any(
        text.startswith("Sorry, I'm having technical trouble") and EMERGENCY_ADVICE in text for text in texts
    )
    assert any("isn't working well in chat" in text for text in texts)  # utter_message(text=f"...")
    assert any("10-digit US phone number" in text for text in texts)  # an InvalidAnswer message
    assert any("Here is your request:\n" in text for text in texts)  # "..." + ... + "..."
    assert any("I answer questions about facet joint pain" in text for text in texts)  # returned
    assert not any("Saving a booking request failed" in text for text in texts)  # a log message
    assert not any(text.startswith("The booking conversation") for text in texts)  # a docstring


# --- fallbacks carry the 911 advice ------------------------------------------------------------


@pytest.mark.parametrize("name, text", ALL_TEXTS, ids=[name for name, _ in ALL_TEXTS])
def test_every_fallback_text_says_call_911(name, text):
    if FALLBACK.search(text):
        assert EMERGENCY_ADVICE in text, f"{name} is a fallback without {EMERGENCY_ADVICE!r}"


def test_the_fallback_lint_sees_the_known_fallbacks():
    fallbacks = [text for _, text in ALL_TEXTS if FALLBACK.search(text)]
    for known in [
        REPHRASE,
        NOTHING_TO_EXPAND,
        rest.TEXTS.en("empty"),
        twilio.EMPTY_MESSAGE_REPLY,
        twilio.TOO_LONG_REPLY,
    ]:
        assert known in fallbacks, known


@pytest.mark.parametrize("response", ["utter_out_of_scope", "utter_feedback_thanks"])
def test_domain_fallbacks_say_call_911_on_every_channel(domain, response):
    for variant in english(domain["responses"][response]):
        assert EMERGENCY_ADVICE in variant["text"], variant.get("channel", "default")


def test_channel_apologies_say_call_911():
    for text in [
        trouble_text(),
        rest.TOO_LONG_REPLY,
        twilio.TOO_LONG_REPLY,
        rest.TEXTS.en("empty"),
        twilio.EMPTY_MESSAGE_REPLY,
    ]:
        assert EMERGENCY_ADVICE in text, text


def unclear_parse(close_guesses: bool) -> dict:
    ranking = (
        [{"name": "faq", "confidence": 0.9}] if close_guesses else [{"name": "greet", "confidence": 0.35}]
    )
    parse = {
        "text": "prp injection how done" if close_guesses else "hmm",
        "intent": {"name": "nlu_fallback", "confidence": 0.4},
        "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.4}, *ranking],
    }
    if close_guesses:
        parse["response_selector"] = {
            "faq": {
                "ranking": [
                    {"intent_response_key": "faq/prp_what", "confidence": 0.5},
                    {"intent_response_key": "faq/prp_procedure", "confidence": 0.4},
                ]
            }
        }
    return parse


@pytest.mark.parametrize("misunderstood_before, close_guesses", [(0, True), (0, False), (1, False)])
def test_every_clarification_says_call_911(domain, misunderstood_before, close_guesses):
    """Did you mean, please rephrase, and "still not sure, here is the clinic" (a real action run)."""
    parse = unclear_parse(close_guesses)
    earlier = [{"event": "user", "parse_data": parse}, {"event": "bot"}] * misunderstood_before
    tracker = make_tracker(parse, events=[*earlier, {"event": "user", "parse_data": parse}])
    dispatcher = CollectingDispatcher()
    ActionClarify().run(dispatcher, tracker, domain)
    [message] = dispatcher.messages
    assert EMERGENCY_ADVICE in message["text"]
    if close_guesses:
        assert message["buttons"]  # the did-you-mean branch was the one checked


def test_booking_form_gives_up_with_the_phone_and_911(domain):
    """The third failed answer ends the form with "call the clinic instead"."""
    tracker = make_tracker(
        slots={"booking_failures": float(MAX_FAILED_ANSWERS - 1), "requested_slot": "booking_phone"}
    )
    dispatcher = CollectingDispatcher()
    result = ValidateBookingForm().validate_booking_phone("not a number", dispatcher, tracker, domain)
    assert result["requested_slot"] is None  # the give-up branch, not another re-ask
    [message] = dispatcher.messages
    assert load_clinic_settings().phone in message["text"]
    assert EMERGENCY_ADVICE in message["text"]


# --- red flags and RELIEF ------------------------------------------------------------------------


@pytest.mark.parametrize("name, text", DOMAIN_TEXTS, ids=[name for name, _ in DOMAIN_TEXTS])
def test_answers_naming_red_flags_say_911_or_er_now(name, text):
    if name.startswith("utter_emergency") or not RED_FLAG_WORDS.search(text):
        return
    assert RED_FLAG_ADVICE.lower() in text.lower(), name


def test_symptoms_answer_names_red_flags_with_911_on_every_channel(responses):
    for variant in english(responses["utter_faq/facet_symptoms"]):
        assert RED_FLAG_WORDS.search(variant["text"])
        assert RED_FLAG_ADVICE.lower() in variant["text"].lower()


@pytest.mark.parametrize("name, text", ALL_TEXTS, ids=[name for name, _ in ALL_TEXTS])
def test_relief_is_offered_at_the_clinic_not_its_own(name, text):
    for sentence in SENTENCE_END.split(text):
        if "RELIEF" in sentence:
            assert not RELIEF_OWNERSHIP.search(sentence), f"{name}: {sentence!r}"


def test_relief_ownership_lint_catches_what_it_should():
    for bad in [
        "RELIEF is the clinic's own minimally invasive treatment.",
        "RELIEF is the clinic's minimally invasive treatment.",
        "Options include PRP and the clinic's RELIEF treatment.",
        "Our RELIEF treatment helps.",
        "RELIEF, developed by our doctors, is new.",
    ]:
        assert RELIEF_OWNERSHIP.search(bad), bad
    assert not RELIEF_OWNERSHIP.search("RELIEF is a minimally invasive treatment offered at the clinic.")


def test_relief_answer_says_offered_at_the_clinic(responses):
    variants = {
        variant.get("channel", "default"): variant["text"]
        for variant in english(responses["utter_faq/relief_treatment"])
    }
    assert all("offered at the clinic" in text for text in variants.values())
    assert "the clinic describes it as" in variants["sms"].lower()


def test_sms_advantages_answer_is_hedged(responses):
    [sms] = [
        v["text"]
        for v in english(responses["utter_faq/advantages_vs_conventional"])
        if v.get("channel") == "sms"
    ]
    assert re.search(r"\bmay\b", sms)


# --- the answers themselves -----------------------------------------------------------------------


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


@pytest.mark.parametrize(
    "topic, patterns",
    [
        # Regenerative options: for people who tried conservative care and still struggle.
        ("regenerative_overview", [r"conservative", r"still (struggle|have)"]),
        ("candidacy", [r"conservative", r"still (struggle|have)"]),
        # Neck pain as well as back pain.
        ("facet_symptoms", [r"back or neck pain"]),
        ("relief_treatment", [r"back or neck pain"]),
        # PRP: a single injection meant (the article: "seeks") to trigger a healing response.
        ("prp_what", [r"single injection (is meant|seeks|aims) to trigger a healing response"]),
        # Why fascia matters to the facet joints.
        ("relief_treatment", [r"fascia", r"restrict spinal motion", r"pressure on the facet joints"]),
    ],
)
def test_answers_cover_the_article(responses, topic, patterns):
    text = responses[f"utter_faq/{topic}"][0]["text"]
    for pattern in patterns:
        assert re.search(pattern, text), f"{topic} lacks {pattern!r}"


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
