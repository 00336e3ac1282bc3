"""Cross-validates the intent+topic classifier options on the training data (English and Spanish).

One label per example (`faq/<topic>` or the intent), stratified k folds, the same TF-IDF features
the live classifier uses (bot/nlu/one_decision.py). Prints a Markdown table for docs/decisions.md:
accuracy over all labels, per language, and seconds to fit once on all the data.
DIET + ResponseSelector, the pipeline this replaced, takes minutes per fit; it is compared on the
held-out and blind sets instead (`scripts/evaluate.py --model`, scripts/pipelines/diet_response_selector.yml).
Usage: python scripts/crossval.py [--folds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.evaluation import load_nlu_examples  # noqa: E402
from bot.nlu.one_decision import TextFeatures  # noqa: E402


def examples(path: Path, language: str) -> List[Tuple[str, str, str]]:
    return [(text, label, language) for label, texts in load_nlu_examples(path).items() for text in texts]


def candidates() -> Dict[str, Callable[[], object]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import LinearSVC

    return {
        "linear SVM, C=0.5 (live)": lambda: LinearSVC(C=0.5, random_state=42),
        "linear SVM, C=1": lambda: LinearSVC(C=1.0, random_state=42),
        "logistic regression, C=20": lambda: LogisticRegression(C=20, max_iter=2000),
        "nearest neighbours, k=5, cosine": lambda: KNeighborsClassifier(
            5, metric="cosine", weights="distance"
        ),
    }


def cross_validate(data, make_model, folds: int, per_language_models: bool = False) -> Dict[str, float]:
    from sklearn.model_selection import StratifiedKFold

    texts = np.array([text for text, _, _ in data], dtype=object)
    labels = np.array([label for _, label, _ in data])
    languages = np.array([language for _, _, language in data])
    predicted = np.empty(len(data), dtype=object)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
    for train, test in splitter.split(texts, labels):
        groups = [(train, test)]
        if per_language_models:
            groups = [
                (train[languages[train] == lang], test[languages[test] == lang]) for lang in ("en", "es")
            ]
        for fit_rows, predict_rows in groups:
            features = TextFeatures()
            model = make_model().fit(features.fit_transform(list(texts[fit_rows])), labels[fit_rows])
            predicted[predict_rows] = model.predict(features.transform(list(texts[predict_rows])))
    right = predicted == labels
    return {
        "all": right.mean(),
        "en": right[languages == "en"].mean(),
        "es": right[languages == "es"].mean(),
    }


def fit_seconds(data, make_model) -> float:
    started = time.monotonic()
    features = TextFeatures()
    make_model().fit(features.fit_transform([t for t, _, _ in data]), [label for _, label, _ in data])
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    data = examples(ROOT / "data" / "nlu.yml", "en") + examples(ROOT / "data" / "nlu_es.yml", "es")
    print(f"\n{args.folds}-fold cross-validation, {len(data)} examples, one label per example\n")
    print("| classifier | accuracy | English | Spanish | fit once (s) |")
    print("|---|---|---|---|---|")
    for name, make_model in candidates().items():
        scores = cross_validate(data, make_model, args.folds)
        print(
            f"| {name}, one bilingual model | {scores['all']:.3f} | {scores['en']:.3f} | {scores['es']:.3f} | {fit_seconds(data, make_model):.1f} |"
        )
    live = candidates()["linear SVM, C=0.5 (live)"]
    scores = cross_validate(data, live, args.folds, per_language_models=True)
    print(
        f"| linear SVM, C=0.5, one model per language | {scores['all']:.3f} | {scores['en']:.3f} | {scores['es']:.3f} | - |"
    )


if __name__ == "__main__":
    main()
