"""Likely-mislabelled rows, found by confident learning (cleanlab) on cross-validated predicted probabilities.

    find_label_noise(splits, label_names) -> LabelNoise   (summary for the card/report + the flagged rows)

The probabilities are out-of-fold: TF-IDF (word 1-2 grams) + logistic regression fitted by sklearn's
`cross_val_predict`, so every row is scored by a model that never saw it. The fine-tuned model's own
probabilities are not used: on its training rows they are in-sample, and confident learning needs
out-of-fold scores for every row. It is cheap (seconds for thousands of rows) and works the same in
`hubtools dataset build` (no model yet) and `hubtools evaluate`.

A scorer only judges labels when it is good at the task: its out-of-fold F1 (macro) against the given labels is
stated with the flags, and below SCORER_MIN_F1 nothing is flagged (a disagreement would more likely be the
scorer's error than a wrong label). The flagged rows are the estimate: one number, `flagged` of `rows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

METHOD = "cleanlab find_label_issues (prune_by_noise_rate) on 5-fold out-of-fold TF-IDF + logistic regression probabilities"
FOLDS = 5
SCORER_MIN_F1 = 0.75  # out-of-fold F1 (macro) against the given labels below which the scorer flags nothing
LABEL_ISSUES_FILE = "label_issues.csv"
ISSUE_COLUMNS = ["split", "row", "text", "label", "suggested", "label_quality"]


@dataclass(frozen=True)
class LabelNoise:
    summary: dict[str, Any]  # what metrics.json / dataset_stats.json keep under "label_noise"
    flagged: pd.DataFrame  # ISSUE_COLUMNS, most likely mislabelled first; `row` is 1-based within its split


def out_of_fold_probabilities(texts: list[str], labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(max_iter=1000, random_state=seed)
    )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_predict(pipeline, texts, labels, cv=splitter, method="predict_proba")


def find_label_noise(splits: dict[str, pd.DataFrame], label_names: list[str], seed: int = 42) -> LabelNoise:
    """Flag rows of `splits` (each with text and label, a name in `label_names`) whose label looks wrong.

    All splits are pooled so each row is judged by models fitted on as much data as possible. With a class of
    fewer than 2 rows no cross-validation is possible: the summary says so and nothing is flagged."""
    from cleanlab.filter import find_label_issues

    pooled = pd.concat(
        [frame[["text", "label"]].assign(split=name, row=np.arange(1, len(frame) + 1)) for name, frame in splits.items()],
        ignore_index=True,
    )
    present = [name for name in label_names if (pooled["label"] == name).any()]
    labels = pooled["label"].map({name: index for index, name in enumerate(present)}).to_numpy()
    smallest = int(np.bincount(labels).min()) if len(labels) else 0
    summary: dict[str, Any] = {"method": METHOD, "rows": len(pooled), "file": LABEL_ISSUES_FILE}
    if len(present) < 2 or smallest < 2:
        reason = f"a class has {smallest} row(s); cross-validation needs at least 2 per class"
        return LabelNoise(summary | {"skipped": reason}, pd.DataFrame(columns=ISSUE_COLUMNS))
    probabilities = out_of_fold_probabilities(pooled["text"].astype(str).tolist(), labels, min(FOLDS, smallest), seed)
    summary["scorer"] = scorer_quality(labels, probabilities)
    if summary["scorer"]["f1_macro"] < SCORER_MIN_F1:
        reason = (
            f"the TF-IDF scorer is too weak on this task to judge labels (its out-of-fold F1 (macro) against the given labels is "
            f"{summary['scorer']['f1_macro']:.2f}, below {SCORER_MIN_F1}), so its disagreements would more likely be its own errors"
        )
        return LabelNoise(summary | {"skipped": reason}, pd.DataFrame(columns=ISSUE_COLUMNS))
    ranked = find_label_issues(labels, probabilities, return_indices_ranked_by="self_confidence")
    flagged = pooled.iloc[ranked].assign(
        suggested=[present[index] for index in probabilities[ranked].argmax(axis=1)],
        label_quality=probabilities[ranked, labels[ranked]],
    )[ISSUE_COLUMNS].reset_index(drop=True)
    summary |= {
        "flagged": len(flagged),
        "flagged_per_split": {name: int((flagged["split"] == name).sum()) for name in splits},
    }
    return LabelNoise(summary, flagged)


def scorer_quality(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """How well the out-of-fold scores agree with the given labels: the scorer's own accuracy and F1 (macro)."""
    from sklearn.metrics import accuracy_score, f1_score

    predicted = probabilities.argmax(axis=1)
    return {"accuracy": float(accuracy_score(labels, predicted)), "f1_macro": float(f1_score(labels, predicted, average="macro"))}


def flagged_texts(flagged: pd.DataFrame, split: str) -> set[str]:
    """Texts of `split` flagged as likely mislabelled (to mark them among a report's errors)."""
    return set(flagged.loc[flagged["split"] == split, "text"].astype(str))


def describe_label_noise(summary: dict[str, Any], folder: Path) -> str:
    """The line `hubtools evaluate` and `dataset build` print: how many rows look mislabelled and where they are listed."""
    if "skipped" in summary:
        return f"likely label errors: none flagged ({summary['skipped']})"
    return (
        f"likely label errors: {summary['flagged']} of {summary['rows']} rows flagged ({summary['flagged'] / summary['rows']:.1%}) by a scorer "
        f"with out-of-fold F1 (macro) {summary['scorer']['f1_macro']:.2f}, listed in {Path(folder) / summary['file']}"
    )
