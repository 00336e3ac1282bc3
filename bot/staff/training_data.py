"""Staff labels written into the training data with ruamel.yaml's round trip, which keeps the
comments, the order and the `examples: |` blocks of data/nlu.yml and domain.yml as people wrote them.

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
from typing import Dict, Iterable, List, Optional, Tuple

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from bot import PROJECT_ROOT
from bot.evaluation import load_nlu_examples
from bot.text_normal import normalise
from bot.workspace import workspace_root

WORKSPACE = workspace_root()
NLU_FILE = WORKSPACE / "data" / "nlu.yml"
DOMAIN_FILE = WORKSPACE / "domain.yml"
TOPICS_FILE = WORKSPACE / "bot" / "topics.yml"
# Every test set: a message that is in one can never become a training example.
TEST_SETS = tuple(
    sorted([*(PROJECT_ROOT / "tests").glob("nlu_*.yml"), *(PROJECT_ROOT / "tests").glob("emergency_*.yml")])
)
OUT_OF_SCOPE = "out_of_scope"
TOPIC_NAME = re.compile(r"^[a-z][a-z0-9_]{2,40}$")
MIN_NEW_TOPIC_EXAMPLES = 5


class LabelRefused(ValueError):
    """A label that would break the training data or the test sets; the message says why."""


@dataclass(frozen=True)
class TrainingFiles:
    nlu: Path = NLU_FILE
    domain: Path = DOMAIN_FILE
    topics: Path = TOPICS_FILE
    test_sets: tuple = TEST_SETS
    project: Path = PROJECT_ROOT  # where config.yml and the spaCy pipeline are


PROJECT_FILES = TrainingFiles()

# Each file's own indentation, so a load and dump without changes gives the file back byte for byte
# (tests/test_staff_training_data.py checks it).
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
    """Every intent and faq/topic staff may assign."""
    return sorted(load_nlu_examples(files.nlu))


def add_example(message: str, label: str, files: TrainingFiles = PROJECT_FILES) -> None:
    """Adds one patient message as a training example of `label` (an intent or faq/<topic>)."""
    message = " ".join(message.split())
    _check_new_examples([message], files)
    data = _yaml("nlu").load(files.nlu)
    block = next((entry for entry in data["nlu"] if entry.get("intent") == label), None)
    if block is None:
        raise LabelRefused(
            f"There is no intent or topic called {label!r}. Known: {', '.join(known_labels(files))}"
        )
    block["examples"] = LiteralScalarString(str(block["examples"]).rstrip("\n") + f"\n- {message}\n")
    _write_validated({files.nlu: ("nlu", data)}, files)


def add_topic(
    name: str, title: str, examples: Iterable[str], answer: str, files: TrainingFiles = PROJECT_FILES
) -> None:
    """A new FAQ topic: training examples, the answer in domain.yml and a title for "did you mean"."""
    examples = [" ".join(example.split()) for example in examples if example.strip()]
    if not TOPIC_NAME.match(name):
        raise LabelRefused("A topic name uses lowercase letters, digits and underscores, e.g. parking_info.")
    if f"faq/{name}" in known_labels(files):
        raise LabelRefused(f"The topic {name!r} exists already.")
    if len(examples) < MIN_NEW_TOPIC_EXAMPLES:
        raise LabelRefused(f"Give at least {MIN_NEW_TOPIC_EXAMPLES} example questions, worded differently.")
    if not answer.strip() or not title.strip():
        raise LabelRefused("A new topic needs a short title and an answer.")
    _check_new_examples(examples, files)
    nlu, domain, topics = (
        _yaml("nlu").load(files.nlu),
        _yaml("domain").load(files.domain),
        _yaml("topics").load(files.topics),
    )
    nlu["nlu"].append(
        {"intent": f"faq/{name}", "examples": LiteralScalarString("".join(f"- {e}\n" for e in examples))}
    )
    domain["responses"][f"utter_faq/{name}"] = [{"text": DoubleQuotedScalarString(answer.strip())}]
    entry = CommentedMap(
        title=DoubleQuotedScalarString(title.strip()), question=DoubleQuotedScalarString(examples[0])
    )
    entry.fa.set_flow_style()  # one line per topic, like the others
    topics[name] = entry
    _write_validated(
        {files.nlu: ("nlu", nlu), files.domain: ("domain", domain), files.topics: ("topics", topics)}, files
    )


def _check_new_examples(messages: List[str], files: TrainingFiles) -> None:
    training = {normalise(e) for texts in load_nlu_examples(files.nlu).values() for e in texts}
    held_out = {
        normalise(e)
        for path in files.test_sets
        if path.exists()
        for texts in load_nlu_examples(path).values()
        for e in texts
    }
    for message in messages:
        if not message or message.startswith("/"):
            raise LabelRefused("An example must be a patient's words, not empty or a button payload.")
        if normalise(message) in held_out:
            raise LabelRefused(
                f"{message!r} is in the test set the bot is checked against; adding it to training would hide mistakes."
            )
        if normalise(message) in training:
            raise LabelRefused(f"{message!r} is already a training example.")


def _write_validated(documents: Dict[Path, Tuple[str, object]], files: TrainingFiles) -> None:
    originals = {path: path.read_text(encoding="utf-8") for path in documents}
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


def _restore(originals: Dict[Path, str]) -> None:
    for path, content in originals.items():
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
