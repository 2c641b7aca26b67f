"""Likely-mislabelled rows, found by confident learning (cleanlab) on cross-validated predicted probabilities.

    find_label_noise(splits, label_names) -> LabelNoise   (summary for the card/report + the flagged rows)

The probabilities are out-of-fold: TF-IDF (word 1-2 grams) + logistic regression fitted by sklearn's
`cross_val_predict`, so every row is scored by a model that never saw it. The fine-tuned model's own
probabilities are not used: on its training rows they are in-sample, and confident learning needs
out-of-fold scores for every row. It is cheap (seconds for thousands of rows) and works the same in
`hubtools dataset build` (no model yet) and `hubtools evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

METHOD = "cleanlab find_label_issues (prune_by_noise_rate) on 5-fold out-of-fold TF-IDF + logistic regression probabilities"
FOLDS = 5
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
    from cleanlab.count import num_label_issues
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
    ranked = find_label_issues(labels, probabilities, return_indices_ranked_by="self_confidence")
    flagged = pooled.iloc[ranked].assign(
        suggested=[present[index] for index in probabilities[ranked].argmax(axis=1)],
        label_quality=probabilities[ranked, labels[ranked]],
    )[ISSUE_COLUMNS].reset_index(drop=True)
    summary |= {
        "estimated_noise_rate": float(num_label_issues(labels, probabilities) / len(pooled)),
        "flagged": len(flagged),
        "flagged_per_split": {name: int((flagged["split"] == name).sum()) for name in splits},
    }
    return LabelNoise(summary, flagged)


def flagged_texts(flagged: pd.DataFrame, split: str) -> set[str]:
    """Texts of `split` flagged as likely mislabelled (to mark them among a report's errors)."""
    return set(flagged.loc[flagged["split"] == split, "text"].astype(str))


def describe_label_noise(summary: dict[str, Any], folder: Path) -> str:
    """The line `hubtools evaluate` and `dataset build` print: how many rows look mislabelled and where they are listed."""
    if "skipped" in summary:
        return f"likely label errors: not searched ({summary['skipped']})"
    return (
        f"likely label errors: {summary['flagged']} rows flagged (estimated noise rate {summary['estimated_noise_rate']:.1%}), "
        f"listed in {Path(folder) / summary['file']}"
    )
