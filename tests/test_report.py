"""`hubtools evaluate` on a real tiny run: files, numbers against the run, slices, baseline, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score
from trained_run import trained_run

from hubtools.data import DataError
from hubtools.formatting import format_p_clause
from hubtools.evaluation import evaluate_model, evaluate_run
from hubtools.evaluation.predict import ReportError
from hubtools.evaluation.write import load_report


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


@pytest.fixture(scope="module")
def report(run):
    return evaluate_run(run.root, slice_by=["platform"], overwrite=True)


def test_report_files(run, report):
    for name in ("metrics.json", "confusion_matrix.png", "reliability_diagram.png", "misclassified.csv", "predictions.parquet", "report.md", "label_issues.csv"):
        assert (run.report / name).stat().st_size > 0
    assert load_report(run.root) == json.loads((run.report / "metrics.json").read_text())
    assert (run.report / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (run.report / "report.md").read_text()
    for heading in ("## Metrics", "## Per class", "## Confusion matrix", "## Calibration", "## By platform", "## Misclassified examples", "## Likely label errors"):
        assert heading in markdown
    assert "95% interval" in markdown and format_p_clause(report["vs_baseline"]["p_value"]) in markdown
    assert f"Majority class ({report['majority_class']['label']} for every row)" in markdown
    assert f"same label as the model on {report['baseline']['same_predictions']} of the {report['rows']} rows" in markdown
    noise = report["label_noise"]
    assert noise["flagged"] == len(pd.read_csv(run.report / "label_issues.csv")) and noise["rows"] == len(pd.read_parquet(run.split("train"))) + len(pd.read_parquet(run.split("test")))
    assert "likely_label_noise" in pd.read_csv(run.report / "misclassified.csv")


def resampled_f1_macro(truth: np.ndarray, predicted: np.ndarray, rows: np.ndarray, labels: list[str]) -> np.ndarray:
    """F1 macro of each resample by scikit-learn, over every label of the task (as the report scores them)."""
    return np.array([f1_score(truth[indices], predicted[indices], labels=labels, average="macro", zero_division=0) for indices in rows])


def test_intervals_calibration_and_paired_test_recomputed_independently(run, report):
    """Every number from predictions.parquet by scikit-learn and plain numpy: the seeded percentile bootstrap
    (2,000 resamples of `default_rng(42)`), the paired test's sign-share p-value and top-label ECE on 10 bins."""
    predictions = pd.read_parquet(run.report / "predictions.parquet")
    truth, predicted, baseline = (predictions[column].to_numpy() for column in ("label", "predicted", "baseline_predicted"))
    rows = np.random.default_rng(42).integers(0, len(truth), size=(2000, len(truth)))
    labels = report["label_names"]
    ours, theirs = resampled_f1_macro(truth, predicted, rows, labels), resampled_f1_macro(truth, baseline, rows, labels)
    assert (report["intervals"]["f1_macro"]["low"], report["intervals"]["f1_macro"]["high"]) == pytest.approx(tuple(np.percentile(ours, [2.5, 97.5])), abs=1e-12)
    differences = ours - theirs
    p_value = min(1.0, 2 * min(np.mean(differences <= 0), np.mean(differences >= 0)))
    versus = report["vs_baseline"]
    full = [f1_score(truth, model, labels=labels, average="macro", zero_division=0) for model in (predicted, baseline)]
    assert versus["difference"] == pytest.approx(full[0] - full[1], abs=1e-12)
    assert (versus["low"], versus["high"], versus["p_value"]) == pytest.approx((*np.percentile(differences, [2.5, 97.5]), p_value), abs=1e-12)
    assert versus["verdict"] == ("tie" if p_value >= 0.05 else "better" if versus["difference"] > 0 else "worse")
    confidence, correct = predictions["confidence"].to_numpy(), predicted == truth
    bins = np.minimum((np.ceil(confidence * 10) - 1).clip(0), 9).astype(int)  # (0.1, 0.2] is bin 1, as numpy's digitize(right=True)
    ece = sum(abs(correct[bins == b].mean() - confidence[bins == b].mean()) * (bins == b).mean() for b in range(10) if (bins == b).any())
    assert report["ece"] == pytest.approx(ece, abs=1e-6)  # predictions.parquet keeps the confidence as float32
    assert [row["rows"] for row in report["calibration_bins"]] == [int((bins == b).sum()) for b in range(10)]
    assert (predictions.predicted != predictions.label).sum() == report["misclassified_rows"]
    assert json.loads(run.metrics.read_text())["test"]["intervals"]["accuracy"] == report["intervals"]["accuracy"]


def test_report_scores_equal_scikit_learn_on_its_predictions(run, report):
    """The report's scores from its own predictions.parquet by scikit-learn, and the rows training evaluated."""
    predictions = pd.read_parquet(run.report / "predictions.parquet")
    truth, predicted = predictions["label"], predictions["predicted"]
    assert report["rows"] == json.loads(run.metrics.read_text())["test"]["rows"] == len(pd.read_parquet(run.split("test")))
    assert report["accuracy"] == pytest.approx(accuracy_score(truth, predicted), abs=1e-12)
    assert report["f1_macro"] == pytest.approx(f1_score(truth, predicted, labels=report["label_names"], average="macro"), abs=1e-12)
    assert report["f1_weighted"] == pytest.approx(f1_score(truth, predicted, labels=report["label_names"], average="weighted"), abs=1e-12)
    baseline = predictions["baseline_predicted"]
    assert report["baseline"]["f1_macro"] == pytest.approx(f1_score(truth, baseline, labels=report["label_names"], average="macro"), abs=1e-12)


def test_counts_are_consistent(run, report):
    test = pd.read_parquet(run.split("test"))
    matrix = report["confusion_matrix"]
    assert sum(map(sum, matrix)) == len(test)
    for index, label in enumerate(report["label_names"]):
        assert sum(matrix[index]) == report["per_class"][label]["support"] == int((test.label == label).sum())
    wrong = len(test) - sum(matrix[i][i] for i in range(len(matrix)))
    assert report["misclassified_rows"] == wrong
    assert len(pd.read_csv(run.report / "misclassified.csv")) == min(wrong, 50)
    assert sum(row["rows"] for row in report["slices"]["platform"].values()) == len(test)
    assert set(report["slices"]["platform"]) == set(test.platform)


def test_baseline_is_fitted_on_the_run_train_split(run, report):
    baseline = report["baseline"]
    assert baseline["train_rows"] == len(pd.read_parquet(run.split("train")))


def test_existing_report_is_not_overwritten(run, report):
    with pytest.raises(ReportError, match="--overwrite"):
        evaluate_run(run.root)


def test_any_model_on_any_file_with_integer_labels(run, tmp_path):
    test = pd.read_parquet(run.split("test"))
    names = json.loads((run.model / "config.json").read_text())["id2label"]
    to_id = {name: int(index) for index, name in names.items()}
    data = tmp_path / "scored.jsonl"
    test.assign(tweet=test.text, gold=test.label.map(to_id))[["tweet", "gold"]].to_json(data, orient="records", lines=True)
    report = evaluate_model(str(run.model), data, tmp_path / "out", text_column="tweet", label_column="gold", max_length=32)
    assert report["accuracy"] == pytest.approx(json.loads(run.metrics.read_text())["test"]["accuracy"])
    assert "baseline" not in report


def test_unknown_label_names_its_row(run, tmp_path):
    data = tmp_path / "data.csv"
    pd.DataFrame({"text": ["fine", "not fine"], "label": ["Opinion", "Sarcasm"]}).to_csv(data, index=False)
    with pytest.raises(ReportError, match=r"row 2, column 'label': label 'Sarcasm' is not one the model") as error:
        evaluate_model(str(run.model), data, tmp_path / "out")
    assert "\n" not in str(error.value)


def test_empty_file(run, tmp_path):
    data = tmp_path / "empty.csv"
    data.write_text("")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        evaluate_model(str(run.model), data, tmp_path / "out")


def test_missing_column(run, tmp_path):
    data = tmp_path / "data.csv"
    pd.DataFrame({"body": ["fine"], "label": ["Opinion"]}).to_csv(data, index=False)
    with pytest.raises(DataError, match="column 'text' not found .*--text-column"):
        evaluate_model(str(run.model), data, tmp_path / "out")


def test_model_without_id2label(run, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

    config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, num_labels=2)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(tmp_path / "unnamed")
    AutoTokenizer.from_pretrained(run.model).save_pretrained(tmp_path / "unnamed")
    data = tmp_path / "data.csv"
    pd.DataFrame({"text": ["fine"], "label": ["Opinion"]}).to_csv(data, index=False)
    with pytest.raises(ReportError, match="has no id2label"):
        evaluate_model(str(tmp_path / "unnamed"), data, tmp_path / "out")


def test_cli_evaluate_run(run, report, tmp_path):
    from typer.testing import CliRunner

    from hubtools.cli import app

    result = CliRunner().invoke(app, ["evaluate", "--run", str(run.root), "--out", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert f"F1 (macro) {report['f1_macro']:.4f}, accuracy {report['accuracy']:.4f} (TF-IDF baseline: F1 (macro) {report['baseline']['f1_macro']:.4f})" in result.output
    assert (tmp_path / "again" / "report.md").is_file()


def test_model_by_hub_repo_id(run, hub, tmp_path):
    token = hub.token("reporter")
    api = hub.api(token)
    api.create_repo("reporter/report-model")
    api.upload_folder(folder_path=str(run.model), repo_id="reporter/report-model")
    report = evaluate_model("reporter/report-model", run.split("test"), tmp_path / "out", max_length=32, baseline_train=run.split("train"))
    assert report["accuracy"] == pytest.approx(json.loads(run.metrics.read_text())["test"]["accuracy"])
    assert report["baseline"]["train_rows"] == len(pd.read_parquet(run.split("train")))


def test_hub_base_model_without_labels(seeded_hub, tmp_path):
    data = tmp_path / "data.csv"
    pd.DataFrame({"text": ["fine"], "label": ["Opinion"]}).to_csv(data, index=False)
    with pytest.raises(ReportError, match="sentence-transformers/all-MiniLM-L6-v2: config.json has no id2label"):
        evaluate_model("sentence-transformers/all-MiniLM-L6-v2", data, tmp_path / "out")


def test_cli_error_is_one_line(tmp_path):
    import subprocess
    import sys

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    command = [sys.executable, "-c", "from hubtools.cli import main; main()", "evaluate", "--model", "some/model", "--data", str(empty)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"Error: {empty}: the file is empty; pass a .csv file with the columns 'text', 'label' and labelled rows"]


def test_evaluate_reuses_the_test_predictions_training_saved(run, tmp_path):
    """Training saves the saved weights' test probabilities; `evaluate --run` reuses them (the model runs no forward
    pass) while weights and test texts are unchanged, scores again when the split changed, and agrees with a fresh run."""
    import shutil

    import torch

    from hubtools.rundir import RunDir

    copy = RunDir(tmp_path / "run")
    shutil.copytree(run.root, copy.root, ignore=shutil.ignore_patterns("report", "card", "checkpoints"))
    assert copy.test_predictions.is_file()
    forward_calls = []
    hook = torch.nn.modules.module.register_module_forward_hook(lambda module, args, output: forward_calls.append(type(module).__name__))
    try:
        reused = evaluate_run(copy.root, output_dir=tmp_path / "reused")
        calls_when_reused = len(forward_calls)

        split = pd.read_parquet(copy.split("test"))
        original = split.copy()
        split.loc[0, "text"] = split.loc[0, "text"] + " (edited)"
        split.to_parquet(copy.split("test"), index=False)
        changed = evaluate_run(copy.root, output_dir=tmp_path / "changed")
        calls_when_changed = len(forward_calls) - calls_when_reused
        original.to_parquet(copy.split("test"), index=False)

        copy.test_predictions.unlink()
        fresh = evaluate_run(copy.root, output_dir=tmp_path / "fresh")
    finally:
        hook.remove()
    assert calls_when_reused == 0, forward_calls[:5]
    assert calls_when_changed > 0 and changed["predictions_from"] == "this evaluation"
    assert reused["predictions_from"] == "training (test_predictions.npz)" and fresh["predictions_from"] == "this evaluation"
    for key in ("rows", "accuracy", "f1_macro", "f1_weighted", "confusion_matrix", "per_class", "misclassified_rows", "baseline"):
        assert reused[key] == fresh[key], key
    assert reused["ece"] == pytest.approx(fresh["ece"], abs=1e-5)
    assert pd.read_parquet(tmp_path / "reused" / "predictions.parquet")["confidence"].to_numpy() == pytest.approx(
        pd.read_parquet(tmp_path / "fresh" / "predictions.parquet")["confidence"].to_numpy(), abs=1e-5
    )
