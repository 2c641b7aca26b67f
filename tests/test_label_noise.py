"""Likely-mislabelled rows (hubtools.label_noise): the quickstart sample's deliberate label noise is found, and
`hubtools dataset build` reports it in its statistics, its card and label_issues.csv."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from huggingface_hub import DatasetCard

from hubtools.label_noise import find_label_noise
from hubtools.labelling import build_dataset
from hubtools.sample_data import LABELS, generate_sample_with_styles


def test_the_quickstart_samples_mislabelled_rows_are_flagged_and_clean_rows_are_not():
    """The quickstart sample (80 rows per label, seed 13: `write_sample_dataset`'s defaults) writes ~12% of rows in
    another label's style; those whose style differs from their label are the truly mislabelled ones."""
    pairs = generate_sample_with_styles()
    frame = pd.DataFrame([row for row, _ in pairs])
    mislabelled = {position for position, (row, style) in enumerate(pairs) if style != row["label"]}
    noise = find_label_noise({"train": frame}, list(LABELS))
    flagged = set(noise.flagged["row"] - 1)
    recall, precision = len(flagged & mislabelled) / len(mislabelled), len(flagged & mislabelled) / len(flagged)
    assert recall >= 0.8, f"only {recall:.0%} of the {len(mislabelled)} mislabelled rows flagged"
    assert precision >= 0.8, f"{len(flagged - mislabelled)} of {len(flagged)} flagged rows are clean"
    assert len(flagged - mislabelled) <= 0.02 * (len(frame) - len(mislabelled))
    assert abs(len(flagged) / len(frame) - len(mislabelled) / len(frame)) < 0.03
    assert "estimated_noise_rate" not in noise.summary  # one number: the flagged rows are the estimate
    assert noise.summary["scorer"]["f1_macro"] >= 0.75  # good enough to judge, and said
    first = noise.flagged.iloc[0]
    assert first["suggested"] != first["label"] and first["label_quality"] < 0.5


def test_a_scorer_too_weak_to_judge_flags_nothing_and_says_how_weak_it_is():
    """An irony-like task the TF-IDF scorer cannot learn: every text is built from the same words whatever its label,
    so the out-of-fold scores are near chance and a disagreement says nothing about the label."""
    import random

    from sklearn.metrics import f1_score

    from hubtools.label_noise import FOLDS, out_of_fold_probabilities

    rng = random.Random(3)
    words = ["great", "love", "monday", "rain", "again", "#not", "traffic", "yay", "meeting", "wonderful"]
    frame = pd.DataFrame(
        {"text": [" ".join(rng.choices(words, k=6)) for _ in range(300)], "label": [rng.choice(["irony", "non_irony"]) for _ in range(300)]}
    )
    noise = find_label_noise({"train": frame}, ["irony", "non_irony"])
    labels = (frame["label"] == "non_irony").astype(int).to_numpy()
    expected = f1_score(labels, out_of_fold_probabilities(frame["text"].tolist(), labels, FOLDS, 42).argmax(axis=1), average="macro")
    assert noise.flagged.empty and "flagged" not in noise.summary
    assert noise.summary["scorer"]["f1_macro"] == pytest.approx(expected) and expected < 0.6
    assert f"out-of-fold F1 (macro) against the given labels is {expected:.2f}, below 0.75" in noise.summary["skipped"]


def test_a_class_too_small_to_cross_validate_is_said_not_searched():
    frame = pd.DataFrame({"text": ["good", "great", "fine", "bad"], "label": ["pos", "pos", "pos", "neg"]})
    noise = find_label_noise({"train": frame}, ["neg", "pos"])
    assert "at least 2 per class" in noise.summary["skipped"] and noise.flagged.empty


def test_dataset_build_reports_label_noise(tmp_path):
    pairs = generate_sample_with_styles(rows_per_label=40)
    rows = [row | {"ann1": row["label"], "ann2": row["label"]} for row, _ in pairs]
    path = tmp_path / "labelled.csv"
    pd.DataFrame(rows).drop(columns="label").to_csv(path, index=False)
    mislabelled = {row["text"] for row, style in pairs if style != row["label"]}

    out = build_dataset(path, ["ann1", "ann2"], tmp_path / "built", license="cc0-1.0")
    noise = json.loads((out / "dataset_stats.json").read_text())["label_noise"]
    flagged = pd.read_csv(out / "label_issues.csv")
    assert noise["flagged"] == len(flagged) > 0 and sum(noise["flagged_per_split"].values()) == len(flagged)
    assert set(flagged["split"]) <= {"train", "validation", "test"}
    assert len(set(flagged["text"]) & mislabelled) >= 0.8 * len(flagged)
    text = DatasetCard.load(out / "README.md").text
    assert "#### Likely label errors" in text and "[label_issues.csv](label_issues.csv)" in text
    assert f"{noise['flagged']} of the {noise['rows']} rows" in text


def fixture_report(tmp_path: Path, binary: bool) -> tuple[dict, str]:
    """build_report/write_report with the probabilities a run saved (here: rebuilt from the committed fixture's
    predictions: the predicted label gets the recorded confidence), as `hubtools evaluate` uses them; `binary`
    relabels every class but Opinion as Other."""
    import numpy as np

    from hubtools.evaluation.build import build_report
    from hubtools.evaluation.predict import Classifier, LabelledText
    from hubtools.evaluation.write import write_report

    fixture = Path(__file__).parent / "fixtures" / "run-minimal"
    scored = pd.read_parquet(fixture / "report" / "predictions.parquet")
    train = pd.read_parquet(fixture / "data" / "train.parquet")[["text", "label"]]
    names = ["Other", "Opinion"] if binary else ["Argumentative", "Expressive", "Informational", "Neutral", "Opinion"]
    if binary:
        for frame, column in ((scored, "label"), (scored, "predicted"), (train, "label")):
            frame[column] = frame[column].where(frame[column] == "Opinion", "Other")
    probabilities = np.zeros((len(scored), len(names)))
    for row, (predicted, confidence) in enumerate(zip(scored["predicted"], scored["confidence"])):
        probabilities[row] = (1 - confidence) / (len(names) - 1)
        probabilities[row, names.index(predicted)] = confidence
    classifier = Classifier(model=None, tokenizer=None, label_names=names, source="model")
    built = build_report(
        classifier, LabelledText(scored[["text", "label"]], "test.parquet"), baseline_train=LabelledText(train, "train.parquet"),
        positive_label="Opinion" if binary else None, probabilities=probabilities,
    )
    written = write_report(built, tmp_path / "report")
    assert written["baseline"]["same_predictions"] == int((built.scored["baseline_predicted"] == built.scored["predicted"]).sum())
    return written, (tmp_path / "report" / "report.md").read_text()


def test_evaluate_reports_label_noise_and_the_majority_class(tmp_path):
    written, markdown = fixture_report(tmp_path, binary=False)
    assert written["majority_class"]["label"] == "Expressive" and written["majority_class"]["accuracy"] == 5 / 21
    assert written["label_noise"]["flagged"] == len(pd.read_csv(tmp_path / "report" / "label_issues.csv"))
    assert set(written["intervals"]) >= {"precision_macro", "recall_weighted"} and "vs_baseline_binary" not in written
    assert "## Likely label errors" in markdown and "Majority class (Expressive for every row)" in markdown
    assert markdown.count("Model vs baseline") == 1


def test_evaluate_compares_a_binary_task_with_the_baseline_on_its_own_metric(tmp_path):
    written, markdown = fixture_report(tmp_path, binary=True)
    assert written["vs_baseline_binary"]["metric"] == "f1" and written["vs_baseline"]["metric"] == "f1_macro"
    assert {"f1", "precision", "recall"} <= set(written["intervals"])
    assert markdown.count("Model vs baseline") == 2 and "on F1 (Opinion)" in markdown
    assert not re.search(r"p = 0\.0+\b", markdown)
