"""Golden test: the model card of a committed fixture run directory (no training) is exactly tests/golden/README.md.

The fixture (tests/fixtures/run-minimal/) holds what `hubtools card` reads: metrics.json, log_history.json,
checkpoint_selection.json, config.yaml, dataset_stats.json, environment.json, tiny Parquet splits, the model's
config.json (no weights) and report/ (predictions.parquet has each test row's label, prediction and the baseline's).
These tests only read the golden file. After an intended change to the card, regenerate it and review the diff:

    PYTHONPATH=src python tests/update_golden.py && git diff tests/golden/

`test_the_golden_card_states_what_the_fixture_run_measured` recomputes the facts a reviewer would check (scores from
the fixture's predictions with scikit-learn, split sizes from its Parquet files, the training log) and finds them in
the golden file, so the golden file is checked against the run, not only against the code's own output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from update_golden import FIXTURE, GOLDEN, render_fixture_card

from hubtools.card import write_model_card


@pytest.fixture()
def fixture_run(tmp_path: Path) -> Path:
    run = tmp_path / "run-minimal"
    shutil.copytree(FIXTURE, run)
    return run


def test_model_card_matches_the_golden_file(tmp_path: Path) -> None:
    rendered = render_fixture_card(tmp_path)
    assert rendered == GOLDEN.read_text(encoding="utf-8"), (
        "the card changed: if intended, run `PYTHONPATH=src python tests/update_golden.py` and review git diff tests/golden/"
    )


def test_the_golden_card_states_what_the_fixture_run_measured() -> None:
    golden = GOLDEN.read_text(encoding="utf-8")
    predictions = pd.read_parquet(FIXTURE / "report" / "predictions.parquet")
    truth, predicted, baseline = predictions["label"], predictions["predicted"], predictions["baseline_predicted"]
    test = json.loads((FIXTURE / "metrics.json").read_text())["test"]
    scores = {"accuracy": accuracy_score(truth, predicted), "f1_macro": f1_score(truth, predicted, average="macro"),
              "f1_weighted": f1_score(truth, predicted, average="weighted")}
    assert scores == pytest.approx({name: test[name] for name in scores})  # metrics.json agrees with the predictions
    assert f"| Accuracy | {scores['accuracy']:.4f} |" in golden and f"| F1 (macro) | {scores['f1_macro']:.4f} |" in golden
    assert f"| F1 (weighted) | {scores['f1_weighted']:.4f} |" in golden and f"Test loss: {test['loss']:.4f}." in golden
    assert f"value: {round(scores['f1_macro'], 4)}\n      name: Test F1 (macro)" in golden  # model-index for the Hub
    assert f"On the test split ({len(predictions)} texts)" in golden

    labels = sorted(truth.unique())
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    for row in zip(labels, precision, recall, f1, support, strict=True):
        assert "| {} | {:.4f} | {:.4f} | {:.4f} | {} |".format(*row) in golden, row

    assert (f"| this model | {scores['accuracy']:.4f} | {scores['f1_macro']:.4f} | {scores['f1_weighted']:.4f} |") in golden
    baseline_row = (f"| TF-IDF (word 1-2 grams) + logistic regression | {accuracy_score(truth, baseline):.4f}"
                    f" | {f1_score(truth, baseline, average='macro'):.4f} | {f1_score(truth, baseline, average='weighted'):.4f} |")
    assert baseline_row in golden
    same = int((predicted == baseline).sum())
    assert f"The two predict the same label for {same} of the {len(predictions)} test texts." in golden

    sizes = {split: len(pd.read_parquet(FIXTURE / "data" / f"{split}.parquet")) for split in ("train", "validation", "test")}
    assert f"{sizes['train']} train, {sizes['validation']} validation, {sizes['test']} test texts." in golden

    for epoch in json.loads((FIXTURE / "log_history.json").read_text()):
        assert (f"| {epoch['training_loss']:.4f} | {epoch['epoch']} | {epoch['step']} | {epoch['validation_loss']:.4f}"
                f" | {epoch['accuracy']:.4f} | {epoch['f1_macro']:.4f} | {epoch['f1_weighted']:.4f} |") in golden
    selection = json.loads((FIXTURE / "checkpoint_selection.json").read_text())
    assert f"The published weights are `{selection['checkpoint']}` (epoch {selection['epoch']:g}" in golden


def test_a_name_missing_from_the_context_fails_the_render(fixture_run: Path, tmp_path: Path, monkeypatch) -> None:
    import hubtools.card.render as rendering
    from hubtools.card.facts import CardError

    template = tmp_path / "templates"
    shutil.copytree(rendering.cards_dir(), template)
    (template / "model_card.md.j2").write_text("---\n{{ card_data }}\n---\n{{ no_such_variable }}\n", encoding="utf-8")
    monkeypatch.setattr(rendering, "cards_dir", lambda: template)
    with pytest.raises(CardError, match="no_such_variable"):
        write_model_card(fixture_run, tmp_path / "card")


def test_a_subsampled_evaluation_is_stated(fixture_run: Path, tmp_path: Path) -> None:
    import json

    report_file = fixture_run / "report" / "metrics.json"
    report = json.loads(report_file.read_text())
    report["rows"] = 15  # as `hubtools evaluate` with a sample of the test split would write it
    report_file.write_text(json.dumps(report))
    text = write_model_card(fixture_run, tmp_path / "card").read_text(encoding="utf-8")
    assert "**Evaluation was subsampled:** 15 of the 21 test rows were scored" in text
    assert "On the test split (a sample of 15 of its 21 texts)" in text


def test_binary_scores_name_the_positive_class(fixture_run: Path, tmp_path: Path) -> None:
    import json

    from huggingface_hub import ModelCard

    metrics_file, report_file = fixture_run / "metrics.json", fixture_run / "report" / "metrics.json"
    metrics, report = json.loads(metrics_file.read_text()), json.loads(report_file.read_text())
    metrics["test"] |= {"f1": 0.61234, "precision": 0.5, "recall": 0.75}  # as a binary run's metrics.json holds them
    metrics["test"]["intervals"]["f1"] = {"low": 0.4, "high": 0.8}
    report["positive_label"] = "Opinion"
    metrics_file.write_text(json.dumps(metrics))
    report_file.write_text(json.dumps(report))
    card = ModelCard.load(write_model_card(fixture_run, tmp_path / "card"))
    assert "| F1 (Opinion) | 0.6123 | 0.4000 – 0.8000 |" in card.text and "positive class **Opinion**" in card.text
    assert "Test F1 (Opinion)" in {result.metric_name for result in card.data.eval_results}
