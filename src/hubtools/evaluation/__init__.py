"""`hubtools evaluate`: score a model on labelled text, next to a TF-IDF baseline, and write the report.

    evaluate_run(run_dir)                     the run's model on the run's test split -> RUN/report/
    evaluate_model(model, data_file, ...)     any model (local folder or Hub id) on any labelled file

One module per step: `predict` (the classifier and its probabilities), `baseline` (TF-IDF and the majority
class), `build` (metrics, slices, label noise, ONNX agreement), `plots` and `write` (the report folder:
`metrics.json`, the confusion matrix and reliability figures, `misclassified.csv`, `predictions.parquet`,
`label_issues.csv`, `report.md`). Metrics come from `hubtools.metrics`, the code Trainer uses during training.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from hubtools.config import RunConfig, load_config
from hubtools.evaluation.build import build_report, onnx_comparison
from hubtools.evaluation.predict import load_classifier, read_labelled_file
from hubtools.evaluation.write import load_report, write_report
from hubtools.metrics import positive_index
from hubtools.rundir import RunDir

MAX_SLICES = 20  # extra columns with more values than this are not sliced automatically (card, compare)


def evaluate_run(run_dir: str | Path, slice_by: Sequence[str] = (), baseline: bool = True, overwrite: bool = False, output_dir: Path | None = None) -> dict[str, Any]:
    """Evaluate RUN/model on RUN/data/test.parquet (baseline fitted on RUN/data/train.parquet); writes RUN/report/.

    The model's test probabilities are the ones training saved when they belong to these weights and
    texts (`hubtools.saved_predictions`); otherwise the model scores the test split here.

    Args:
        run_dir: the run directory.
        slice_by: extra columns of the test split whose values get their own metrics.
        baseline: fit the TF-IDF baseline on the train split and test the model against it.
        overwrite: replace a report already written.
        output_dir: where the report goes; None: RUN/report/.

    Returns:
        What metrics.json holds.

    Raises:
        InputFileError: the run lacks its model, config.yaml or test split.
        ReportError: the model names no labels, a test label is unknown to it, or a report exists and `overwrite` is off.
    """
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
    built = build_report(classifier, test, config.training.max_length, train, slice_by, config.data.positive_label, saved)
    built.metrics["split"] = "test"
    built.metrics["predictions_from"] = "training (test_predictions.npz)" if saved is not None else "this evaluation"
    built.metrics |= sample
    if run.onnx.is_dir():
        built.metrics["onnx"] = onnx_comparison(run, classifier, built.scored, config.training.max_length)
    return write_report(built, output_dir or run.report, overwrite=overwrite)


def ensure_report(run: RunDir, config: RunConfig) -> dict[str, Any]:
    """The run's report; `hubtools evaluate` runs first when there is none, sliced by the low-cardinality extra columns.

    Args:
        run: the run directory.
        config: its config (the extra columns to slice by).

    Raises:
        InputFileError: the run lacks what `evaluate_run` needs.
        ReportError: as `evaluate_run`.
    """
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
    """Evaluate any model on any labelled file; with `baseline_train`, fit the TF-IDF baseline on that file.

    Args:
        model: a model folder or a Hub id (through HF_ENDPOINT).
        data_file: the labelled CSV/JSON(L)/Parquet file.
        output_dir: the report folder.
        text_column: the text's column in `data_file` (and `baseline_train`).
        label_column: the label's column.
        slice_by: columns whose values get their own metrics.
        baseline_train: the file the TF-IDF baseline is fitted on; None: no baseline.
        max_length: tokens read per text.
        overwrite: replace a report already in `output_dir`.

    Returns:
        What metrics.json holds.

    Raises:
        InputFileError: a file does not exist.
        DataError: a file cannot be read, is empty or lacks a column.
        ReportError: the model names no labels, a label is unknown to it, or a report exists and `overwrite` is off.
    """
    data = read_labelled_file(data_file, text_column, label_column, slice_by)
    train = read_labelled_file(baseline_train, text_column, label_column) if baseline_train else None
    built = build_report(load_classifier(model), data, max_length, train, slice_by)
    return write_report(built, output_dir, overwrite=overwrite)


def run_positive_label(run: RunDir) -> str | None:
    """The class a binary run's `f1`/`precision`/`recall` are about (`data.positive_label`, else the second label); None with more classes."""
    names = run.read_json(run.dataset_stats)["label_names"]
    positive = positive_index(names, load_config(run.config).data.positive_label)
    return None if positive is None else names[positive]
