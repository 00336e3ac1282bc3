"""Rasa NLU component: one classifier over every intent and every FAQ topic.

Rasa's usual pair (DIETClassifier for intents, ResponseSelector for `faq/<topic>`) decides in two
stages, and a confident topic was lost whenever the intent stage ranked `faq` low ("Is it covered
by insurance?" -> nlu_fallback although the topic was certain). Here each topic is a label of its
own next to the plain intents, so the best label wins outright. The output keeps Rasa's formats:
`intent` / `intent_ranking` for the plain intents (a topic appears as `faq` with the topic's
probability) and `response_selector.faq` for the topics, so rules, `utter_faq`, the fallbacks and
"did you mean" work unchanged. Why a linear model on TF-IDF n-grams: docs/decisions.md
("One decision over all labels"); it was the most accurate option and trains in seconds.

Scores become probabilities by a softmax whose temperature is fitted on cross-validated scores
(temperature scaling), so the fallback thresholds keep their meaning when the data changes.
"""

from __future__ import annotations

import collections
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
)
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    INTENT_RESPONSE_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC

from bot.text_normal import normalise

RETRIEVAL_SEPARATOR = "/"
MODEL_FILE = "one_decision.npz"
VOCABULARY_FILE = "one_decision_vocabulary.json"


def flat_label(message: Message) -> Optional[str]:
    """`faq/<topic>` for an FAQ example, the intent name otherwise."""
    return message.get(INTENT_RESPONSE_KEY) or message.get(INTENT)


class TextFeatures:
    """Word 1-2-grams and character 2-5-grams (typos still share most of them), TF-IDF weighted."""

    def __init__(self, word: Optional[TfidfVectorizer] = None, chars: Optional[TfidfVectorizer] = None):
        self.word = word or TfidfVectorizer(
            analyzer="word", ngram_range=(1, 2), sublinear_tf=True, preprocessor=normalise,
            token_pattern=r"(?u)\b\w+\b", dtype=np.float32,
        )  # fmt: skip
        self.chars = chars or TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, preprocessor=normalise,
            dtype=np.float32,
        )  # fmt: skip
        # Per vectorizer: its analyzer, vocabulary and IDF array, read once after fitting
        # (sklearn's `idf_` property sums a sparse diagonal matrix on every access).
        self._fitted: Optional[List[Tuple[Any, Dict[str, int], np.ndarray]]] = None

    def fit_transform(self, texts: Sequence[str]) -> Any:
        from scipy.sparse import hstack

        self._fitted = None
        return hstack([self.word.fit_transform(texts), self.chars.fit_transform(texts)]).tocsr()

    def transform(self, texts: Sequence[str]) -> Any:
        from scipy.sparse import hstack

        return hstack([self.word.transform(texts), self.chars.transform(texts)]).tocsr()

    def terms(self, text: str) -> Tuple[np.ndarray, np.ndarray]:
        """One text's row of `transform` as (column indices, values), computed directly.

        The same analyzers, sublinear TF, IDF and per-part L2 norm as the fitted vectorizers, without
        sklearn's per-call checks and sparse-matrix assembly: for one message those cost more than
        the arithmetic (docs/performance.md, profile). Tested equal to `transform`.
        """
        if self._fitted is None:
            self._fitted = [(v.build_analyzer(), v.vocabulary_, v.idf_) for v in (self.word, self.chars)]
        columns, values, offset = [], [], 0
        for analyzer, vocabulary, idf in self._fitted:
            counts = collections.Counter(vocabulary[gram] for gram in analyzer(text) if gram in vocabulary)
            part_columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            part_values = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
            part_values *= idf[part_columns]
            norm = np.sqrt(np.dot(part_values, part_values))
            if norm > 0:
                part_values /= norm
            columns.append(part_columns + offset)
            values.append(part_values)
            offset += len(vocabulary)
        return np.concatenate(columns), np.concatenate(values)

    def state(self) -> Tuple[Dict[str, Dict[str, int]], Dict[str, np.ndarray]]:
        vocabularies = {
            name: {term: int(index) for term, index in vectorizer.vocabulary_.items()}
            for name, vectorizer in (("word", self.word), ("chars", self.chars))
        }
        return vocabularies, {"idf_word": self.word.idf_, "idf_chars": self.chars.idf_}

    @classmethod
    def from_state(cls, vocabularies: Dict[str, Dict[str, int]], arrays: Any) -> TextFeatures:
        features = cls()
        for name, vectorizer in (("word", features.word), ("chars", features.chars)):
            vectorizer.vocabulary_ = vocabularies[name]
            vectorizer.idf_ = arrays[f"idf_{name}"]
        return features


def fitted_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """The softmax temperature that makes held-out scores the most likely (temperature scaling)."""

    def negative_log_likelihood(temperature: float) -> float:
        return -float(np.mean(log_softmax(temperature * scores, axis=1)[np.arange(len(labels)), labels]))

    return float(minimize_scalar(negative_log_likelihood, bounds=(0.5, 50.0), method="bounded").x)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class OneDecisionClassifier(IntentClassifier, GraphComponent):
    """Predicts intents and FAQ topics with one linear model over all labels."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"retrieval_intent": "faq", "C": 0.5, "calibration_folds": 3, "random_seed": 42}

    @staticmethod
    def required_packages() -> List[str]:
        return ["sklearn", "scipy"]

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> OneDecisionClassifier:
        return cls({**cls.get_default_config(), **config}, model_storage, resource)

    def __init__(self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._features: Optional[TextFeatures] = None
        self._labels: List[str] = []
        self._weights: Optional[np.ndarray] = None
        self._bias: Optional[np.ndarray] = None
        self._temperature = 1.0

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT) and flat_label(m)]
        texts = [m.get(TEXT) for m in examples]
        labels = [flat_label(m) for m in examples]
        self._features = TextFeatures()
        matrix = self._features.fit_transform(texts)
        self._labels = sorted(set(labels))
        targets = np.array([self._labels.index(label) for label in labels])

        model = self._new_model()
        folds = StratifiedKFold(
            self._config["calibration_folds"], shuffle=True, random_state=self._config["random_seed"]
        )
        held_out_scores = cross_val_predict(model, matrix, targets, cv=folds, method="decision_function")
        self._temperature = fitted_temperature(held_out_scores, targets)

        model.fit(matrix, targets)
        self._weights = model.coef_.astype(np.float32)
        self._bias = model.intercept_.astype(np.float32)
        self._persist()
        return self._resource

    def _new_model(self) -> LinearSVC:
        return LinearSVC(C=self._config["C"], random_state=self._config["random_seed"])

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text: the probability of every label, in `labels` order."""
        scores = np.empty((len(texts), len(self._labels)), dtype=np.float64)
        for row, text in enumerate(texts):
            columns, values = self._features.terms(text)
            # Only the weights of the message's own n-grams: a few hundred of the model's columns.
            scores[row] = self._weights[:, columns] @ values + self._bias
        return softmax(self._temperature * scores, axis=1)

    @property
    def labels(self) -> List[str]:
        return list(self._labels)

    def process(self, messages: List[Message]) -> List[Message]:
        if self._weights is None:
            return messages
        scored = [m for m in messages if m.get(TEXT)]
        if not scored:
            return messages
        for message, row in zip(scored, self.probabilities([m.get(TEXT) for m in scored]), strict=False):
            self._annotate(message, row)
        return messages

    def _annotate(self, message: Message, row: np.ndarray) -> None:
        faq = self._config["retrieval_intent"]
        prefix = faq + RETRIEVAL_SEPARATOR
        ranked = sorted(zip(self._labels, row.tolist(), strict=False), key=lambda pair: -pair[1])
        topics = [(label, p) for label, p in ranked if label.startswith(prefix)]

        intents: List[Dict[str, Any]] = []
        for label, p in ranked:
            name = faq if label.startswith(prefix) else label
            if all(entry[INTENT_NAME_KEY] != name for entry in intents):
                intents.append({INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: p})
        message.set(INTENT, intents[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, intents[:10], add_to_output=True)

        if topics:
            best, confidence = topics[0]
            selector = {
                RESPONSE_SELECTOR_PREDICTION_KEY: {
                    RESPONSE_SELECTOR_RESPONSES_KEY: [],
                    PREDICTED_CONFIDENCE_KEY: confidence,
                    INTENT_RESPONSE_KEY: best,
                    RESPONSE_SELECTOR_UTTER_ACTION_KEY: f"utter_{best}",
                },
                RESPONSE_SELECTOR_RANKING_KEY: [
                    {"id": index, PREDICTED_CONFIDENCE_KEY: p, INTENT_RESPONSE_KEY: label}
                    for index, (label, p) in enumerate(topics[:10])
                ],
            }
            message.set(
                RESPONSE_SELECTOR_PROPERTY_NAME,
                {RESPONSE_SELECTOR_RETRIEVAL_INTENTS: [faq], faq: selector},
                add_to_output=True,
            )

    def _persist(self) -> None:
        vocabularies, idf = self._features.state()
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(
                json.dumps({"labels": self._labels, "temperature": self._temperature, **vocabularies})
            )
            np.savez(directory / MODEL_FILE, weights=self._weights, bias=self._bias, **idf)

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> OneDecisionClassifier:
        component = cls.create(config, model_storage, resource, execution_context)
        # Plain arrays and JSON, no pickle: loading a model file cannot run code.
        with model_storage.read_from(resource) as directory:
            state = json.loads((directory / VOCABULARY_FILE).read_text())
            with np.load(directory / MODEL_FILE, allow_pickle=False) as arrays:
                component._features = TextFeatures.from_state(state, arrays)
                component._weights = arrays["weights"]
                component._bias = arrays["bias"]
        component._labels = state["labels"]
        component._temperature = state["temperature"]
        return component
