"""Staff labels written into the training data with ruamel.yaml's round trip, which keeps the
comments, the order and the `examples: |` blocks of data/nlu.yml, data/nlu_es.yml and domain.yml as
people wrote them.

Two languages, one set of labels: an English message goes to data/nlu.yml, a Spanish one to
data/nlu_es.yml (bot/language.py tells them apart, the same guess the inbox shows). A new topic may
carry a Spanish version: examples in data/nlu_es.yml, title_es/question_es in bot/topics.yml, and
the answer as a variation of utter_faq/<topic> chosen when the `language` slot is "es".

Guards: a message already in the training data is not added twice; a message in the held-out or
blind test sets is never added (it would make the quality gate lie); every change is checked by
`rasa data validate` and undone if it fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from bot import PROJECT_ROOT
from bot.evaluation import load_nlu_examples
from bot.language import ENGLISH, LANGUAGES, SPANISH, best_guess, language_switch
from bot.text_normal import normalise
from bot.workspace import workspace_root

WORKSPACE = workspace_root()
NLU_FILE = WORKSPACE / "data" / "nlu.yml"
SPANISH_NLU_NAME = "nlu_es.yml"  # beside nlu.yml: `rasa train --data data/` reads both
DOMAIN_FILE = WORKSPACE / "domain.yml"
TOPICS_FILE = WORKSPACE / "bot" / "topics.yml"
TESTS_DIR = PROJECT_ROOT / "tests"
LANGUAGE_SLOT = "language"
# A Spanish answer is a variation of the topic's response, chosen when the conversation is Spanish.
SPANISH_CONDITION = ({"type": "slot", "name": LANGUAGE_SLOT, "value": SPANISH},)
# data/nlu_es.yml as the first Spanish label creates it.
NEW_SPANISH_NLU = """version: "3.1"

# Spanish training examples, under the same labels as data/nlu.yml (faq/<topic> and plain intents).
# Staff labels from the console land here when the message is Spanish. No test sentence
# (tests/nlu_*.yml, tests/emergency_*.yml) is ever copied here.

nlu:
"""
ENGLISH_ONLY_WARNING = (
    "This topic has no Spanish version: Spanish-speaking patients will get the English answer, and "
    "Spanish questions about it may not be recognised."
)
OUT_OF_SCOPE = "out_of_scope"
TOPIC_NAME = re.compile(r"^[a-z][a-z0-9_]{2,40}$")
MIN_NEW_TOPIC_EXAMPLES = 5


class LabelRefused(ValueError):
    """A label that would break the training data or the test sets; the message says why."""


def test_set_paths(tests_dir: Path = TESTS_DIR) -> Tuple[Path, ...]:
    """Every test set (English and Spanish), looked up when used: sets written later count too."""
    return tuple(sorted([*tests_dir.glob("nlu_*.yml"), *tests_dir.glob("emergency_*.yml")]))


@dataclass(frozen=True)
class TrainingFiles:
    nlu: Path = NLU_FILE
    domain: Path = DOMAIN_FILE
    topics: Path = TOPICS_FILE
    # None: every tests/nlu_*.yml and tests/emergency_*.yml at the time of the check.
    test_sets: Optional[tuple] = None
    project: Path = PROJECT_ROOT  # where config.yml and the spaCy pipeline are

    @property
    def spanish_nlu(self) -> Path:
        """data/nlu_es.yml: in the same folder as nlu.yml, so training and validation read it."""
        return self.nlu.with_name(SPANISH_NLU_NAME)

    def nlu_for(self, language: str) -> Path:
        return self.spanish_nlu if language == SPANISH else self.nlu

    def all_test_sets(self) -> Tuple[Path, ...]:
        return tuple(self.test_sets) if self.test_sets is not None else test_set_paths()


PROJECT_FILES = TrainingFiles()

# Each file's own indentation, so a load and dump without changes gives the file back byte for byte
# (tests/test_staff.py checks it).
INDENTS = {"nlu": (2, 2, 0), "domain": (2, 4, 2), "topics": (2, 2, 0)}


def _yaml(kind: str) -> YAML:
    yaml = YAML()  # round-trip mode
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    mapping, sequence, offset = INDENTS[kind]
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _examples(block: str) -> List[str]:
    return [line[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")]


def known_labels(files: TrainingFiles = PROJECT_FILES) -> List[str]:
    """Every intent and faq/topic staff may assign (the English and Spanish files share them)."""
    return sorted(set(load_nlu_examples(files.nlu)) | set(_spanish_examples(files)))


def message_language(message: str) -> str:
    """The language of a patient message, "en" or "es": what the inbox shows, where a label goes."""
    return best_guess(message)


def add_example(
    message: str, label: str, files: TrainingFiles = PROJECT_FILES, language: Optional[str] = None
) -> str:
    """Adds one patient message as a training example of `label` (an intent or faq/<topic>).

    Args:
        language: "en" (data/nlu.yml) or "es" (data/nlu_es.yml); None: told from the message.

    Returns:
        The language whose file got the example.
    """
    message = " ".join(message.split())
    language = language or message_language(message)
    if language not in LANGUAGES:
        raise LabelRefused(f"The language must be one of {', '.join(LANGUAGES)}, not {language!r}.")
    _check_new_examples([message], files)
    labels = known_labels(files)
    if label not in labels:
        raise LabelRefused(f"There is no intent or topic called {label!r}. Known: {', '.join(labels)}")
    path = files.nlu_for(language)
    data = _load_nlu(path)
    block = next((entry for entry in data["nlu"] if entry.get("intent") == label), None)
    if block is None:  # a label the Spanish file has no example of yet
        data["nlu"].append(CommentedMap(intent=label, examples=LiteralScalarString(f"- {message}\n")))
    else:
        block["examples"] = LiteralScalarString(str(block["examples"]).rstrip("\n") + f"\n- {message}\n")
    _write_validated({path: ("nlu", data)}, files)
    return language


def add_topic(
    name: str,
    title: str,
    examples: Iterable[str],
    answer: str,
    files: TrainingFiles = PROJECT_FILES,
    *,
    title_es: str = "",
    question_es: str = "",
    examples_es: Iterable[str] = (),
    answer_es: str = "",
) -> List[str]:
    """A new FAQ topic: training examples, the answer in domain.yml and a title for "did you mean".

    The Spanish version (title_es, question_es, examples_es, answer_es) is optional but all of a
    piece: without it the topic is English-only and the returned warnings say so.

    Returns:
        Warnings for the person adding the topic (the change is made).
    """
    examples = _clean(examples)
    examples_es = _clean(examples_es)
    title_es, question_es, answer_es = (
        " ".join(value.split()) for value in (title_es, question_es, answer_es)
    )
    if not TOPIC_NAME.match(name):
        raise LabelRefused("A topic name uses lowercase letters, digits and underscores, e.g. parking_info.")
    if f"faq/{name}" in known_labels(files):
        raise LabelRefused(f"The topic {name!r} exists already.")
    if len(examples) < MIN_NEW_TOPIC_EXAMPLES:
        raise LabelRefused(f"Give at least {MIN_NEW_TOPIC_EXAMPLES} example questions, worded differently.")
    if not answer.strip() or not title.strip():
        raise LabelRefused("A new topic needs a short title and an answer.")
    spanish = bool(title_es or question_es or examples_es or answer_es)
    if spanish:
        if question_es and normalise(question_es) not in {normalise(e) for e in examples_es}:
            examples_es.insert(0, question_es)  # the button's question must be a training example
        if not title_es or not answer_es or len(examples_es) < MIN_NEW_TOPIC_EXAMPLES:
            raise LabelRefused(
                "The Spanish version needs a Spanish title, a Spanish answer and at least "
                f"{MIN_NEW_TOPIC_EXAMPLES} Spanish example questions; or leave all Spanish fields empty."
            )
    _check_new_examples(examples + examples_es, files)
    nlu, domain, topics = (
        _yaml("nlu").load(files.nlu),
        _yaml("domain").load(files.domain),
        _yaml("topics").load(files.topics),
    )
    nlu["nlu"].append(
        {"intent": f"faq/{name}", "examples": LiteralScalarString("".join(f"- {e}\n" for e in examples))}
    )
    responses = [CommentedMap(text=DoubleQuotedScalarString(answer.strip()))]
    entry = CommentedMap(
        title=DoubleQuotedScalarString(title.strip()), question=DoubleQuotedScalarString(examples[0])
    )
    documents: Dict[Path, Tuple[str, object]] = {files.nlu: ("nlu", nlu)}
    if spanish:
        nlu_es = _load_nlu(files.spanish_nlu)
        nlu_es["nlu"].append(
            CommentedMap(
                intent=f"faq/{name}", examples=LiteralScalarString("".join(f"- {e}\n" for e in examples_es))
            )
        )
        documents[files.spanish_nlu] = ("nlu", nlu_es)
        condition = CommentedSeq(CommentedMap(item) for item in SPANISH_CONDITION)
        # condition first, as domain.yml writes its Spanish variations
        responses.append(CommentedMap(condition=condition, text=DoubleQuotedScalarString(answer_es)))
        entry["title_es"] = DoubleQuotedScalarString(title_es)
        entry["question_es"] = DoubleQuotedScalarString(question_es or examples_es[0])
    domain["responses"][f"utter_faq/{name}"] = responses
    entry.fa.set_flow_style()  # one line per topic, like the others
    topics[name] = entry
    documents[files.domain] = ("domain", domain)
    documents[files.topics] = ("topics", topics)
    _write_validated(documents, files)
    return _topic_warnings(examples, examples_es, answer_es if spanish else "", domain)


TOPIC_FORM_FIELDS = (
    "name",
    "title",
    "examples",
    "answer",
    "title_es",
    "question_es",
    "examples_es",
    "answer_es",
)


def add_topic_from_form(form: Mapping[str, str], files: TrainingFiles = PROJECT_FILES) -> List[str]:
    """add_topic from the console's form (TOPIC_FORM_FIELDS; examples one per line)."""

    def lines(key: str) -> List[str]:
        return [line.strip() for line in (form.get(key) or "").splitlines() if line.strip()]

    return add_topic(
        (form.get("name") or "").strip(),
        form.get("title") or "",
        lines("examples"),
        form.get("answer") or "",
        files,
        title_es=form.get("title_es") or "",
        question_es=form.get("question_es") or "",
        examples_es=lines("examples_es"),
        answer_es=form.get("answer_es") or "",
    )


def _clean(examples: Iterable[str]) -> List[str]:
    return [" ".join(example.split()) for example in examples if example.strip()]


def _topic_warnings(examples: List[str], examples_es: List[str], answer_es: str, domain) -> List[str]:
    """What staff should know about a topic that was added: English-only, or text in the wrong box
    (bot/language.py's confident guess; a hint, since Spanglish and short texts fool it)."""
    warnings = [] if answer_es else [ENGLISH_ONLY_WARNING]
    for example in examples:
        if language_switch(example) == SPANISH:
            warnings.append(f"{example!r} looks Spanish but is among the English examples.")
    if not answer_es:
        return warnings
    for example in examples_es:
        if language_switch(example) == ENGLISH:
            warnings.append(f"{example!r} looks English but is among the Spanish examples.")
    if language_switch(answer_es) == ENGLISH:
        warnings.append("The Spanish answer looks English.")
    if LANGUAGE_SLOT not in (domain.get("slots") or {}):
        warnings.append(
            f"domain.yml has no `{LANGUAGE_SLOT}` slot yet: the Spanish answer is used once it does."
        )
    return warnings


def _spanish_examples(files: TrainingFiles) -> Dict[str, List[str]]:
    return load_nlu_examples(files.spanish_nlu) if files.spanish_nlu.exists() else {}


def _load_nlu(path: Path):
    """An NLU file for a round trip; data/nlu_es.yml starts from NEW_SPANISH_NLU if it is missing."""
    data = _yaml("nlu").load(path if path.exists() else NEW_SPANISH_NLU)
    if data.get("nlu") is None:
        data["nlu"] = CommentedSeq()
    return data


def _check_new_examples(messages: List[str], files: TrainingFiles) -> None:
    training = {
        normalise(e)
        for examples in (load_nlu_examples(files.nlu), _spanish_examples(files))
        for texts in examples.values()
        for e in texts
    }
    held_out = {
        normalise(e)
        for path in files.all_test_sets()
        if path.exists()
        for texts in load_nlu_examples(path).values()
        for e in texts
    }
    given: set = set()
    for message in messages:
        if not message or message.startswith("/"):
            raise LabelRefused("An example must be a patient's words, not empty or a button payload.")
        if normalise(message) in held_out:
            raise LabelRefused(
                f"{message!r} is in the test set the bot is checked against; adding it to training would hide mistakes."
            )
        if normalise(message) in training:
            raise LabelRefused(f"{message!r} is already a training example.")
        if normalise(message) in given:
            raise LabelRefused(f"{message!r} is given twice (after ignoring case, accents and punctuation).")
        given.add(normalise(message))


def _write_validated(documents: Dict[Path, Tuple[str, object]], files: TrainingFiles) -> None:
    # None: a file this change creates (data/nlu_es.yml the first time); undoing removes it.
    originals = {path: path.read_text(encoding="utf-8") if path.exists() else None for path in documents}
    try:
        for path, (kind, document) in documents.items():
            with path.open("w", encoding="utf-8") as handle:
                _yaml(kind).dump(document, handle)
        problem = validation_problem(files)
    except Exception:
        _restore(originals)
        raise
    if problem:
        _restore(originals)
        raise LabelRefused(f"The change was undone: Rasa's data check failed.\n{problem}")


def _restore(originals: Dict[Path, Optional[str]]) -> None:
    for path, content in originals.items():
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(content, encoding="utf-8")


def validation_problem(files: TrainingFiles = PROJECT_FILES) -> Optional[str]:
    """None when `rasa data validate --fail-on-warnings` passes, else the end of its output."""
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "data", "validate", "--fail-on-warnings",
         "--domain", str(files.domain), "--data", str(files.nlu.parent), "--config", str(files.project / "config.yml")],
        cwd=files.project, capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode == 0:
        return None
    lines = [
        line for line in (result.stdout + result.stderr).splitlines() if "WARNING" in line or "ERROR" in line
    ]
    return "\n".join(lines[-10:]) or "rasa data validate failed"
