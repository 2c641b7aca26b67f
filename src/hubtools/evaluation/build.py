"""Assembling a report: the model's metrics with intervals and calibration, the baseline and the paired test
against it, label noise, slices, and the ONNX exports' agreement with the PyTorch model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from hubtools.evaluation.baseline import BASELINE_NAME, majority_class, tfidf_baseline
from hubtools.evaluation.predict import Classifier, LabelledText, align_labels, predict
from hubtools.label_noise import find_label_noise, flagged_texts
from hubtools.metrics import compute_classification_metrics, compute_classification_report, positive_index
from hubtools.metrics.uncertainty import paired_bootstrap_test, reliability_table, uncertainty_summary
from hubtools.rundir import RunDir

SLICE_METRICS = ("accuracy", "f1_macro", "f1_weighted")
ONNX_METRICS = ("accuracy", "f1_macro")


@dataclass
class BuiltReport:
    """What `build_report` assembles, before anything is written."""

    metrics: dict[str, Any]  # what metrics.json holds (the files it names are added when written)
    scored: pd.DataFrame  # every row of the data: text, label, predicted, confidence (and baseline_predicted, likely_label_noise, slice columns)
    label_issues: pd.DataFrame  # the rows flagged as likely mislabelled (hubtools.label_noise)


def build_report(
    classifier: Classifier,
    data: LabelledText,
    max_length: int = 128,
    baseline_train: LabelledText | None = None,
    slice_by: Sequence[str] = (),
    positive_label: str | None = None,
    probabilities: np.ndarray | None = None,
) -> BuiltReport:
    """Metrics of the model (and baseline) on `data`, with 95% intervals, calibration and a paired test
    against the baseline, the scored rows and the rows flagged as likely mislabelled (`data` and
    `baseline_train` pooled, hubtools.label_noise).

    Args:
        classifier: the model under evaluation.
        data: the labelled rows it is scored on.
        max_length: tokens read per text.
        baseline_train: the rows the TF-IDF baseline is fitted on; None: no baseline.
        slice_by: columns of `data` whose values get their own metrics.
        positive_label: the class binary `f1`/`precision`/`recall` are about (None: the second label).
        probabilities: the model's, one row per text of `data` in its label order, when already computed;
            None: the model scores `data` here.

    Raises:
        ReportError: a label of `data` or `baseline_train` the model does not know.
        HubtoolsError: `positive_label` is not one of the model's labels.
    """
    names = classifier.label_names
    positive = positive_index(names, positive_label)
    frame = data.frame.copy()
    frame["label"] = align_labels(data, names, classifier.source)
    references = [names.index(label) for label in frame["label"]]
    if probabilities is None:
        probabilities = predict(classifier, frame["text"].tolist(), max_length=max_length)
    predictions = probabilities.argmax(axis=1)
    frame["predicted"] = [names[index] for index in predictions]
    frame["confidence"] = probabilities.max(axis=1)
    uncertainty = uncertainty_summary(probabilities, references, positive)
    report: dict[str, Any] = {
        "model": classifier.source,
        "data": data.source,
        "rows": len(frame),
        "label_names": names,
        "positive_label": names[positive] if positive is not None else None,
        "max_length": max_length,
        **compute_classification_report(predictions, references, names, positive_label=names[positive] if positive is not None else None),
        **uncertainty,
        "calibration_bins": reliability_table(frame["confidence"], predictions == np.asarray(references)),
    }
    report["majority_class"] = majority_class(references, names, report["positive_label"])
    noise_splits = {"test": frame}
    if baseline_train is not None:
        train_labels = align_labels(baseline_train, names, classifier.source)
        noise_splits = {"train": baseline_train.frame.assign(label=train_labels), **noise_splits}
        baseline_predictions = tfidf_baseline(baseline_train.frame["text"], [names.index(label) for label in train_labels], frame["text"])
        frame["baseline_predicted"] = [names[index] for index in baseline_predictions]
        report["baseline"] = {
            "name": BASELINE_NAME,
            "train_data": baseline_train.source,
            "train_rows": len(baseline_train.frame),
            "same_predictions": int((frame["baseline_predicted"] == frame["predicted"]).sum()),
            **compute_classification_metrics(baseline_predictions, references, names, positive_label=report["positive_label"]),
        }
        report["vs_baseline"] = paired_bootstrap_test(predictions, baseline_predictions, references, len(names), positive=positive).as_dict()
        if positive is not None:  # the task's own metric: F1 of the positive class
            report["vs_baseline_binary"] = paired_bootstrap_test(
                predictions, baseline_predictions, references, len(names), metric="f1", positive=positive
            ).as_dict()
    noise = find_label_noise(noise_splits, names)
    report["label_noise"] = noise.summary
    frame["likely_label_noise"] = frame["text"].isin(flagged_texts(noise.flagged, "test"))
    report["slices"] = {column: slice_metrics(frame, column, names) for column in slice_by}
    report["misclassified_rows"] = int((frame["predicted"] != frame["label"]).sum())
    return BuiltReport(metrics=report, scored=frame, label_issues=noise.flagged)


def slice_metrics(frame: pd.DataFrame, column: str, label_names: list[str]) -> dict[str, dict[str, float]]:
    """Rows and headline metrics for each value of `column`, largest group first."""
    slices = {}
    for value, group in sorted(frame.groupby(column), key=lambda item: (-len(item[1]), str(item[0]))):
        metrics = compute_classification_metrics(
            [label_names.index(p) for p in group["predicted"]], [label_names.index(r) for r in group["label"]], label_names
        )
        slices[str(value)] = {"rows": len(group)} | {name: metrics[name] for name in SLICE_METRICS}
    return slices


def onnx_comparison(run: RunDir, classifier: Classifier, scored: pd.DataFrame, max_length: int) -> dict[str, dict[str, Any]]:
    """For each ONNX file of `hubtools export`: the share of rows where it predicts the PyTorch model's label,
    and its accuracy / F1 macro with their change from the PyTorch model's (negative = worse)."""
    from hubtools.export import OnnxClassifier

    names = classifier.label_names
    references = [names.index(label) for label in scored["label"]]
    reference_predictions = [names.index(label) for label in scored["predicted"]]
    baseline = compute_classification_metrics(reference_predictions, references, names)
    comparison = {}
    for precision, path in (("fp32", run.onnx_fp32), ("int8", run.onnx_int8)):
        if not path.is_file():
            continue
        predictions = OnnxClassifier(path, classifier.tokenizer, max_length).predict(scored["text"].tolist())
        metrics = compute_classification_metrics(predictions, references, names)
        agreement = sum(p == r for p, r in zip(predictions, reference_predictions)) / len(predictions)
        comparison[precision] = {"file": f"{path.parent.name}/{path.name}", "agreement": agreement} | {
            key: value for name in ONNX_METRICS for key, value in ((name, metrics[name]), (f"{name}_change", metrics[name] - baseline[name]))
        }
    return comparison
