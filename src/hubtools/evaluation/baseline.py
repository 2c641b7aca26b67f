"""The floors a model must clear: a TF-IDF + logistic regression baseline and the majority class."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from hubtools.metrics import compute_classification_metrics

BASELINE_NAME = "TF-IDF (word 1-2 grams) + logistic regression"


def tfidf_baseline(train_texts: Sequence[str], train_labels: Sequence[int], test_texts: Sequence[str], seed: int = 42) -> list[int]:
    """Fit TF-IDF + logistic regression on the train split and predict the test split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(max_iter=1000, random_state=seed),
    )
    pipeline.fit(list(train_texts), list(train_labels))
    return [int(label) for label in pipeline.predict(list(test_texts))]


def majority_class(references: Sequence[int], label_names: list[str], positive_label: str | None) -> dict[str, Any]:
    """The scores of always predicting the most frequent label: the floor any model must clear."""
    counts = np.bincount(np.asarray(references, dtype=int), minlength=len(label_names))
    majority = int(counts.argmax())
    constant = [majority] * len(references)
    scores = compute_classification_metrics(constant, list(references), label_names, positive_label=positive_label)
    return {"label": label_names[majority], "accuracy": scores["accuracy"], "f1_macro": scores["f1_macro"]} | (
        {"f1": scores["f1"]} if "f1" in scores else {}
    )
