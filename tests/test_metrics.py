"""Shipped evaluate metric modules against scikit-learn on fixed examples."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from hubtools.metrics import (
    compute_classification_metrics,
    compute_classification_report,
    trainer_compute_metrics,
)

LABELS = ["anger", "joy", "optimism", "sadness"]
REFERENCES = [0, 0, 1, 1, 1, 2, 3, 3, 3, 3, 0, 1]
PREDICTIONS = [0, 1, 1, 1, 0, 1, 3, 3, 2, 3, 0, 1]  # class 2 is never predicted right: f1 0, not NaN


def test_scalar_metrics_equal_scikit_learn():
    metrics = compute_classification_metrics(PREDICTIONS, REFERENCES, LABELS)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(REFERENCES, PREDICTIONS))
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(REFERENCES, PREDICTIONS, average=average, zero_division=0)
        assert metrics[f"precision_{average}"] == pytest.approx(p)
        assert metrics[f"recall_{average}"] == pytest.approx(r)
        assert metrics[f"f1_{average}"] == pytest.approx(f)
    assert "f1" not in metrics  # binary scores only for two classes
    assert all(isinstance(value, float) for value in metrics.values())


def test_per_class_and_confusion_matrix():
    report = compute_classification_report(PREDICTIONS, REFERENCES, LABELS)
    p, r, f, s = precision_recall_fscore_support(REFERENCES, PREDICTIONS, labels=[0, 1, 2, 3], zero_division=0)
    assert list(report["per_class"]) == LABELS
    for index, name in enumerate(LABELS):
        row = report["per_class"][name]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p[index], r[index], f[index]))
        assert row["support"] == s[index]
    assert report["confusion_matrix"] == [[2, 1, 0, 0], [1, 3, 0, 0], [0, 1, 0, 0], [0, 0, 1, 3]]
    assert report["confusion_matrix"] == confusion_matrix(REFERENCES, PREDICTIONS).tolist()


def test_binary_scores_use_second_label_as_positive():
    references, predictions = [0, 0, 1, 1, 1], [0, 1, 1, 1, 0]
    metrics = compute_classification_metrics(predictions, references, ["negative", "positive"])
    assert metrics["precision"] == pytest.approx(2 / 3)
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["f1"] == pytest.approx(2 / 3)


def test_class_missing_from_data_still_counts_in_macro_average():
    metrics = compute_classification_report([0, 0, 1], [0, 0, 1], ["a", "b", "c"])
    assert metrics["per_class"]["c"]["support"] == 0
    assert metrics["f1_macro"] == pytest.approx(2 / 3)
    assert metrics["confusion_matrix"] == [[2, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_trainer_compute_metrics_takes_logits():
    from transformers import EvalPrediction

    logits = np.eye(4)[PREDICTIONS] + 0.1
    compute = trainer_compute_metrics(LABELS)
    metrics = compute(EvalPrediction(predictions=(logits,), label_ids=np.array(REFERENCES)))
    expected = {"accuracy": accuracy_score(REFERENCES, PREDICTIONS)}  # the argmax of the logits is PREDICTIONS
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(REFERENCES, PREDICTIONS, average=average, zero_division=0)
        expected |= {f"precision_{average}": p, f"recall_{average}": r, f"f1_{average}": f}
    assert metrics == pytest.approx(expected)
    assert metrics["accuracy"] == pytest.approx(8 / 12)  # by hand: rows 0, 2, 3, 6, 7, 9, 10, 11 are right


def test_shipped_modules_load_with_evaluate_load_offline(monkeypatch, tmp_path):
    import evaluate

    from hubtools.metrics import MODULES_DIR

    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    accuracy = evaluate.load(str(MODULES_DIR / "accuracy.py"), cache_dir=str(tmp_path))
    assert accuracy.compute(predictions=[1, 0, 1], references=[1, 1, 1]) == {"accuracy": pytest.approx(2 / 3)}
