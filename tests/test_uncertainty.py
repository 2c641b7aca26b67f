"""Bootstrap intervals, the paired test against a baseline, calibration, positive label, PNG labels with emoji."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from hubtools.errors import HubtoolsError
from hubtools.metrics import compute_classification_metrics, metric_name, positive_index
from hubtools.metrics.uncertainty import (
    bootstrap_intervals,
    confusion_matrices,
    expected_calibration_error,
    paired_bootstrap_test,
    scores_from_confusion,
)

RNG = np.random.default_rng(0)
REFERENCES = RNG.integers(0, 3, size=300)
GOOD = np.where(RNG.random(300) < 0.85, REFERENCES, RNG.integers(0, 3, size=300))
POOR = np.where(RNG.random(300) < 0.55, REFERENCES, RNG.integers(0, 3, size=300))


def test_vectorised_scores_equal_scikit_learn():
    scores = scores_from_confusion(confusion_matrices(np.stack([GOOD, POOR]), np.stack([REFERENCES, REFERENCES]), 3), positive=2)
    for row, predictions in enumerate((GOOD, POOR)):
        assert scores["accuracy"][row] == pytest.approx(accuracy_score(REFERENCES, predictions))
        assert scores["f1_macro"][row] == pytest.approx(f1_score(REFERENCES, predictions, average="macro"))
        assert scores["f1_weighted"][row] == pytest.approx(f1_score(REFERENCES, predictions, average="weighted"))
        assert scores["f1"][row] == pytest.approx(f1_score(REFERENCES == 2, predictions == 2))
        for average in ("macro", "weighted"):
            assert scores[f"precision_{average}"][row] == pytest.approx(precision_score(REFERENCES, predictions, average=average, zero_division=0))
            assert scores[f"recall_{average}"][row] == pytest.approx(recall_score(REFERENCES, predictions, average=average, zero_division=0))
        assert scores["precision"][row] == pytest.approx(precision_score(REFERENCES == 2, predictions == 2))
        assert scores["recall"][row] == pytest.approx(recall_score(REFERENCES == 2, predictions == 2))


def test_intervals_hold_the_estimate_are_seeded_and_narrow_with_more_rows():
    intervals = bootstrap_intervals(GOOD, REFERENCES, 3)
    assert set(intervals) == {"accuracy", *(f"{name}_{average}" for name in ("f1", "precision", "recall") for average in ("macro", "weighted"))}
    accuracy = accuracy_score(REFERENCES, GOOD)
    assert intervals["accuracy"]["low"] < accuracy < intervals["accuracy"]["high"]
    assert bootstrap_intervals(GOOD, REFERENCES, 3) == intervals
    small = bootstrap_intervals(GOOD[:60], REFERENCES[:60], 3)["accuracy"]
    assert small["high"] - small["low"] > 1.5 * (intervals["accuracy"]["high"] - intervals["accuracy"]["low"])
    assert {"f1", "precision", "recall"} <= set(bootstrap_intervals(GOOD % 2, REFERENCES % 2, 2, positive=1))


def test_bootstrap_is_fast_enough_for_a_large_test_split():
    references = RNG.integers(0, 4, size=10_000)
    started = time.perf_counter()
    bootstrap_intervals(references, references, 4, resamples=2000)
    assert time.perf_counter() - started < 20  # 2,000 resamples of 10k rows, vectorised (about 2 s here)


def test_paired_test_tells_better_from_tie():
    clear = paired_bootstrap_test(GOOD, POOR, REFERENCES, 3)
    assert clear.verdict == "better" and clear.p_value < 0.01 and clear.low > 0
    assert paired_bootstrap_test(POOR, GOOD, REFERENCES, 3).verdict == "worse"
    same = paired_bootstrap_test(GOOD, GOOD, REFERENCES, 3)
    assert same.verdict == "tie" and same.p_value == 1.0 and same.difference == 0
    flipped = GOOD.copy()
    flipped[:3] = (flipped[:3] + 1) % 3  # three rows apart out of 300: no evidence either way
    assert paired_bootstrap_test(GOOD, flipped, REFERENCES, 3).verdict == "tie"


def test_expected_calibration_error():
    assert expected_calibration_error([0.75] * 4, [True, True, True, False]) == pytest.approx(0.0)
    assert expected_calibration_error([0.95] * 10, [True] * 5 + [False] * 5) == pytest.approx(0.45)


def test_positive_label_names_the_binary_scores():
    predictions, references = [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]
    default = compute_classification_metrics(predictions, references, ["not_irony", "irony"])
    chosen = compute_classification_metrics(predictions, references, ["irony", "not_irony"], positive_label="irony")
    assert default["f1"] == pytest.approx(f1_score(references, predictions, pos_label=1))
    assert chosen["f1"] == pytest.approx(f1_score(references, predictions, pos_label=0))
    assert metric_name("f1", "irony") == "F1 (irony)"
    assert positive_index(["a", "b", "c"], None) is None
    with pytest.raises(HubtoolsError, match="data.positive_label 'sarcasm' is not one of the labels"):
        positive_index(["irony", "not_irony"], "sarcasm")


def test_emoji_labels_render_without_missing_glyphs(tmp_path):
    from hubtools.cards import plot_label_distribution
    from hubtools.plotting import covered_code_points, drawable
    from hubtools.report import plot_confusion_matrix

    labels = ["🤖 bot", "joy 😀", "🥳"]
    assert all(ord(char) in covered_code_points() or char.isspace() for label in labels for char in drawable(label))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plot_confusion_matrix([[3, 1, 0], [0, 2, 1], [1, 0, 4]], labels, tmp_path / "matrix.png")
        plot_label_distribution({"label_names": labels, "splits": {"train": {"labels": dict.fromkeys(labels, 3)}}}, tmp_path / "labels.png")
    assert not [str(warning.message) for warning in caught if "Glyph" in str(warning.message)]
    assert (tmp_path / "matrix.png").stat().st_size > 0 and (tmp_path / "labels.png").stat().st_size > 0
