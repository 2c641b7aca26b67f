"""`hubtools evaluate`: score a model on labelled text, next to a TF-IDF baseline, and write the report.

    evaluate_run(run_dir)                     the run's model on the run's test split -> RUN/report/
    evaluate_model(model, data_file, ...)     any model (local folder or Hub id) on any labelled file

The report folder holds `metrics.json` (scalar, per-class, confusion matrix, baseline, slices),
`confusion_matrix.png` (counts and row-normalised), `misclassified.csv` (the most confident errors),
`label_issues.csv` (rows flagged as likely mislabelled) and `report.md`. Metrics come from `hubtools.metrics`, the code Trainer uses during training.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from hubtools.config import RunConfig
from hubtools.errors import InputError
from hubtools.label_noise import LABEL_ISSUES_FILE, find_label_noise, flagged_texts
from hubtools.metrics import compute_classification_metrics, compute_classification_report, metric_name, positive_index
from hubtools.metrics.uncertainty import paired_bootstrap_test, reliability_table, uncertainty_summary
from hubtools.plotting import drawable, pyplot
from hubtools.resources import cards_dir
from hubtools.rundir import RunDir, write_json_atomic

logger = logging.getLogger(__name__)

MISCLASSIFIED_SAMPLE = 50
REPORT_FILES = {
    "confusion_matrix": "confusion_matrix.png",
    "reliability": "reliability_diagram.png",
    "misclassified": "misclassified.csv",
    "predictions": "predictions.parquet",  # every test row: what `hubtools compare` pairs runs on
    "label_issues": LABEL_ISSUES_FILE,  # rows flagged as likely mislabelled (hubtools.label_noise)
    "report": "report.md",
}
PREDICTION_COLUMNS = pd.Index(["text", "label", "predicted", "confidence", "baseline_predicted", "likely_label_noise"])
MAX_SLICES = 20  # extra columns with more values than this are not sliced automatically (card, compare)
SLICE_METRICS = ("accuracy", "f1_macro", "f1_weighted")
DEFAULT_LABEL = re.compile(r"LABEL_\d+")
BASELINE_NAME = "TF-IDF (word 1-2 grams) + logistic regression"
ONNX_METRICS = ("accuracy", "f1_macro")
SCALAR_KEYS = (
    "accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro",
    "precision_weighted", "recall_weighted", "f1", "precision", "recall",
)


class ReportError(InputError):
    """Data or a model that cannot be evaluated, or a report that would be overwritten."""


@dataclass
class Classifier:
    model: Any
    tokenizer: Any
    label_names: list[str]
    source: str


@dataclass
class LabelledText:
    frame: pd.DataFrame  # text, label (a name the model knows) and any slice columns
    source: str


# ---- inputs -----------------------------------------------------------------------------------


def load_classifier(model: str | Path) -> Classifier:
    """Load a sequence classifier from a folder or a Hub id (through HF_ENDPOINT); it must name its labels.

    A Hub id is someone else's repo: its model files are downloaded and checked (`hubtools.untrusted`) first."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from hubtools.hubclient import hub_api, model_load_error, resolve_endpoint
    from hubtools.model_files import UntrustedModelError
    from hubtools.untrusted import download_model

    endpoint = resolve_endpoint(None)
    try:
        folder = model if Path(model).is_dir() else download_model(hub_api(endpoint), str(model), None)
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
        network = AutoModelForSequenceClassification.from_pretrained(str(folder), trust_remote_code=False)
    except UntrustedModelError:  # already one line naming the repo and the file
        raise
    except (OSError, ValueError) as error:
        raise model_load_error(str(model), error, endpoint) from error
    id2label = network.config.id2label or {}
    label_names = [str(id2label[index]) for index in sorted(id2label)]
    if not label_names or all(DEFAULT_LABEL.fullmatch(name) for name in label_names):
        raise ReportError(f"{model}: config.json has no id2label (labels are {label_names or 'missing'}); save the model with id2label/label2id naming its classes")
    network.eval()
    return Classifier(model=network, tokenizer=tokenizer, label_names=label_names, source=str(model))


def read_labelled_file(path: Path, text_column: str = "text", label_column: str = "label", extra_columns: Sequence[str] = ()) -> LabelledText:
    """Read a CSV/JSON(L)/Parquet file of labelled text (`hubtools.data.read_table`: an empty file or a missing column is one line)."""
    from hubtools.data import read_table

    path = Path(path)
    frame = read_table(path, [("--text-column", text_column), ("--label-column", label_column)] + [("--slice-by", c) for c in extra_columns])
    out = pd.DataFrame({"text": frame[text_column].astype(str), "label": frame[label_column]})
    for column in extra_columns:
        out[column] = frame[column].astype("string").fillna("")
    return LabelledText(frame=out, source=str(path))


def align_labels(data: LabelledText, label_names: list[str], model_source: str, label_column: str = "label") -> pd.Series:
    """Map label names (or integer ids) onto the model's label names; an unknown label is an error naming its row."""
    known = {name: name for name in label_names} | {str(index): name for index, name in enumerate(label_names)}
    values = data.frame["label"].astype(str)
    unknown = ~values.isin(list(known))
    if unknown.any():
        row = int(unknown.to_numpy().nonzero()[0][0]) + 1
        raise ReportError(
            f"{data.source}: row {row}, column '{label_column}': label {values[unknown].iloc[0]!r} is not one the model "
            f"{model_source} knows ({', '.join(label_names)}); relabel the row or evaluate a model trained on this label"
        )
    return values.map(known)


# ---- predictions --------------------------------------------------------------------------------


def predict(classifier: Classifier, texts: Sequence[str], max_length: int = 128, batch_size: int = 64) -> np.ndarray:
    """Softmax probabilities, one row per text (in input order), one column per label."""
    import torch

    batches = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = classifier.tokenizer(
                list(texts[start : start + batch_size]), truncation=True, max_length=max_length, padding=True, return_tensors="pt"
            )
            batches.append(classifier.model(**batch).logits.float().softmax(dim=-1).numpy())
    return np.concatenate(batches) if batches else np.zeros((0, len(classifier.label_names)))


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


# ---- the report ---------------------------------------------------------------------------------


def build_report(
    classifier: Classifier,
    data: LabelledText,
    max_length: int = 128,
    baseline_train: LabelledText | None = None,
    slice_by: Sequence[str] = (),
    positive_label: str | None = None,
    probabilities: np.ndarray | None = None,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Metrics of the model (and baseline) on `data`, with 95% intervals, calibration and a paired test
    against the baseline; returns the report dict, the scored rows and the rows flagged as likely mislabelled
    (`data` and `baseline_train` pooled, hubtools.label_noise). `probabilities` (one row per text of `data`,
    in the model's label order) are the model's when already computed; otherwise the model scores `data`."""
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
    return report, frame, noise.flagged


def majority_class(references: Sequence[int], label_names: list[str], positive_label: str | None) -> dict[str, Any]:
    """The scores of always predicting the most frequent label: the floor any model must clear."""
    counts = np.bincount(np.asarray(references, dtype=int), minlength=len(label_names))
    majority = int(counts.argmax())
    constant = [majority] * len(references)
    scores = compute_classification_metrics(constant, list(references), label_names, positive_label=positive_label)
    return {"label": label_names[majority], "accuracy": scores["accuracy"], "f1_macro": scores["f1_macro"]} | (
        {"f1": scores["f1"]} if "f1" in scores else {}
    )


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


def write_report(
    report: dict[str, Any], scored: pd.DataFrame, label_issues: pd.DataFrame, output_dir: Path, overwrite: bool = False
) -> dict[str, Any]:
    """Write metrics.json, confusion_matrix.png, misclassified.csv, label_issues.csv and report.md into `output_dir`;
    returns what metrics.json holds."""
    output_dir = Path(output_dir)
    metrics_path = output_dir / "metrics.json"
    if metrics_path.exists() and not overwrite:
        raise ReportError(f"{metrics_path}: a report already exists; pass --overwrite to replace it or --out to write elsewhere")
    output_dir.mkdir(parents=True, exist_ok=True)
    plot_confusion_matrix(report["confusion_matrix"], report["label_names"], output_dir / REPORT_FILES["confusion_matrix"])
    plot_reliability(report["calibration_bins"], report["ece"], output_dir / REPORT_FILES["reliability"])
    errors = scored[scored["predicted"] != scored["label"]].sort_values("confidence", ascending=False, kind="stable")
    errors.head(MISCLASSIFIED_SAMPLE).to_csv(output_dir / REPORT_FILES["misclassified"], index=False)
    scored[PREDICTION_COLUMNS.intersection(scored.columns, sort=False)].to_parquet(output_dir / REPORT_FILES["predictions"], index=False)
    label_issues.to_csv(output_dir / REPORT_FILES["label_issues"], index=False)
    report = report | {"files": dict(REPORT_FILES)}
    (output_dir / "report.md").write_text(render_report_markdown(report), encoding="utf-8")
    write_json_atomic(metrics_path, report)
    return report


def plot_confusion_matrix(matrix: list[list[int]], label_names: list[str], path: Path) -> None:
    """Two panels: counts and row-normalised (recall per true class), with labelled axes and values."""
    plt = pyplot()
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    tick_labels = [drawable(name) for name in label_names]
    size = max(4.0, 0.9 * len(label_names) + 2)
    figure, axes = plt.subplots(1, 2, figsize=(2 * size + 1, size), constrained_layout=True)
    for axis, values, title, fmt in ((axes[0], counts, "Counts", "{:.0f}"), (axes[1], normalised, "Row-normalised", "{:.2f}")):
        image = axis.imshow(values, cmap="Blues", vmin=0)
        axis.set(
            title=title, xlabel="Predicted label", ylabel="True label",
            xticks=range(len(label_names)), yticks=range(len(label_names)),
            xticklabels=tick_labels, yticklabels=tick_labels,
        )
        axis.tick_params(axis="x", labelrotation=45)
        threshold = values.max() / 2 if values.max() > 0 else 1
        for (row, column), value in np.ndenumerate(values):
            axis.text(column, row, fmt.format(value), ha="center", va="center", color="white" if value > threshold else "black")
        figure.colorbar(image, ax=axis, shrink=0.8)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_reliability(bins: list[dict[str, float]], ece: float, path: Path) -> None:
    """Reliability diagram: accuracy per confidence bin against the diagonal, with rows per bin below."""
    plt = pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(5, 6), sharex=True, height_ratios=(3, 1), constrained_layout=True)
    centres = [(row["low"] + row["high"]) / 2 for row in bins]
    width = bins[0]["high"] - bins[0]["low"]
    filled = [row for row in bins if row["rows"]]
    top.bar([(row["low"] + row["high"]) / 2 for row in filled], [row["accuracy"] for row in filled], width=width * 0.9, label="accuracy")
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    top.set(ylabel="Accuracy", ylim=(0, 1), title=f"Reliability diagram (ECE {ece:.3f})")
    top.legend(loc="upper left")
    bottom.bar(centres, [row["rows"] for row in bins], width=width * 0.9, color="grey")
    bottom.set(xlabel="Confidence of the predicted label", ylabel="Rows", xlim=(0, 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)


def render_report_markdown(report: dict[str, Any]) -> str:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(cards_dir()), trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    from hubtools.formatting import format_p_clause

    environment.filters["p_clause"] = format_p_clause
    return environment.get_template("report.md.j2").render(report=report, scalar_keys=SCALAR_KEYS, metric_name=metric_name)


def describe_scores(scores: dict[str, Any], positive_label: str | None, baseline: dict[str, Any] | None = None) -> str:
    """The scores `train` and `evaluate` print, the task's metric first (as the card leads with it): "F1 (irony) 0.5926,
    F1 (macro) 0.6809, accuracy 0.7003 (TF-IDF baseline: F1 (irony) 0.6012, F1 (macro) 0.6462)"."""
    shown = ["f1", "f1_macro"] if "f1" in scores else ["f1_macro"]  # only binary tasks have the positive class's `f1`

    def listed(values: dict[str, Any]) -> str:
        return ", ".join(f"{metric_name(key, positive_label)} {values[key]:.4f}" for key in shown)

    line = f"{listed(scores)}, accuracy {scores['accuracy']:.4f}"
    return line + (f" (TF-IDF baseline: {listed(baseline)})" if baseline else "")


def run_positive_label(run: RunDir) -> str | None:
    """The class a binary run's `f1`/`precision`/`recall` are about (`data.positive_label`, else the second label); None with more classes."""
    from hubtools.config import load_config

    names = run.read_json(run.dataset_stats)["label_names"]
    positive = positive_index(names, load_config(run.config).data.positive_label)
    return None if positive is None else names[positive]


def load_report(run_dir: str | Path) -> dict[str, Any]:
    run = RunDir(Path(run_dir))
    return run.read_json(run.report / "metrics.json")


# ---- entry points -------------------------------------------------------------------------------


def evaluate_run(run_dir: str | Path, slice_by: Sequence[str] = (), baseline: bool = True, overwrite: bool = False, output_dir: Path | None = None) -> dict[str, Any]:
    """Evaluate RUN/model on RUN/data/test.parquet (baseline fitted on RUN/data/train.parquet); writes RUN/report/.

    The model's test probabilities are the ones training saved when they belong to these weights and
    texts (`hubtools.saved_predictions`); otherwise the model scores the test split here."""
    from hubtools.config import load_config
    from hubtools.saved_predictions import load_test_predictions

    run = RunDir(Path(run_dir))
    run.require(run.model, run.config, run.split("test"))
    config = load_config(run.config)
    test = read_labelled_file(run.split("test"), extra_columns=slice_by)
    positions = config.evaluate.rows(len(test.frame))
    sample = {}
    if positions is not None:  # the rows train scored: the card's numbers and the report's agree
        sample = {"sampled_from": len(test.frame), "sample_seed": config.evaluate.sample_seed}
        test = dataclasses.replace(test, frame=test.frame.iloc[positions].reset_index(drop=True))
    train = read_labelled_file(run.split("train")) if baseline else None
    classifier = load_classifier(run.model)
    saved = load_test_predictions(run, test.frame["text"].tolist(), config.training.max_length)
    report, scored, label_issues = build_report(classifier, test, config.training.max_length, train, slice_by, config.data.positive_label, saved)
    report["split"] = "test"
    report["predictions_from"] = "training (test_predictions.npz)" if saved is not None else "this evaluation"
    report |= sample
    if run.onnx.is_dir():
        report["onnx"] = onnx_comparison(run, classifier, scored, config.training.max_length)
    return write_report(report, scored, label_issues, output_dir or run.report, overwrite=overwrite)


def ensure_report(run: RunDir, config: RunConfig) -> dict[str, Any]:
    """The run's report; `hubtools evaluate` runs first when there is none, sliced by the low-cardinality extra columns."""
    if (run.report / "metrics.json").is_file():
        report = load_report(run.root)
        if {"intervals", "ece", "majority_class", "label_noise"} <= set(report) and {"reliability", "predictions"} <= set(report.get("files", {})):
            return report
        # written by an older hubtools, without intervals, calibration, per-row predictions or label noise: evaluated again
    test = pd.read_parquet(run.split("test"))
    slice_by = [column for column in config.data.extra_columns if column in test and test[column].nunique() <= MAX_SLICES]
    return evaluate_run(run.root, slice_by=slice_by, overwrite=True)


def evaluate_model(
    model: str | Path,
    data_file: Path,
    output_dir: Path,
    text_column: str = "text",
    label_column: str = "label",
    slice_by: Sequence[str] = (),
    baseline_train: Path | None = None,
    max_length: int = 128,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Evaluate any model on any labelled file; with `baseline_train`, fit the TF-IDF baseline on that file."""
    data = read_labelled_file(data_file, text_column, label_column, slice_by)
    train = read_labelled_file(baseline_train, text_column, label_column) if baseline_train else None
    report, scored, label_issues = build_report(load_classifier(model), data, max_length, train, slice_by)
    return write_report(report, scored, label_issues, output_dir, overwrite=overwrite)
