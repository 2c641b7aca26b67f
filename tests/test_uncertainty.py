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
    claim_intervals,
    confusion_matrices,
    expected_calibration_error,
    paired_bootstrap_test,
    reliability_table,
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


# Pinned from the hand-written numpy bootstrap (chunked `default_rng(42).integers`) that scipy.stats.bootstrap
# replaced at this commit: scipy draws the same resample indices from the same generator (one
# `integers(0, n, (batch, n))` per batch, the batch as the old chunk), so there is no Monte-Carlo error
# between the two and every bound must be equal to the last bits (1e-12 allows only float summation order).
OLD_INTERVALS = {
    "accuracy": (0.8566666666666667, 0.9233333333333333),
    "f1_macro": (0.8525828830689254, 0.9233366522163893),
    "f1_weighted": (0.8564313182025969, 0.923647798699389),
}


def test_intervals_equal_the_hand_written_bootstrap_on_fixed_seeds():
    intervals = bootstrap_intervals(GOOD, REFERENCES, 3)
    for key, (low, high) in OLD_INTERVALS.items():
        assert (intervals[key]["low"], intervals[key]["high"]) == pytest.approx((low, high), abs=1e-12)
    binary = bootstrap_intervals(GOOD % 2, REFERENCES % 2, 2, positive=1)["f1"]
    assert (binary["low"], binary["high"]) == pytest.approx((0.8453497987761178, 0.9361702127659575), abs=1e-12)
    claims = claim_intervals(GOOD, REFERENCES, ["a", "b", "c"])
    assert claims["per_class/b/recall"] == pytest.approx((0.8846052631578947, 0.9791666666666666), abs=1e-12)
    assert claims["precision_macro"] == pytest.approx((0.8533185890540734, 0.9244702884426991), abs=1e-12)


def test_paired_test_equals_the_hand_written_one_on_fixed_seeds():
    clear = paired_bootstrap_test(GOOD, POOR, REFERENCES, 3)
    assert clear.difference == pytest.approx(f1_score(REFERENCES, GOOD, average="macro") - f1_score(REFERENCES, POOR, average="macro"), abs=1e-12)
    assert (clear.low, clear.high, clear.p_value) == pytest.approx((0.13314272195114685, 0.2647747640465151, 0.0), abs=1e-12)
    flipped = GOOD.copy()
    flipped[:3] = (flipped[:3] + 1) % 3
    close = paired_bootstrap_test(GOOD, flipped, REFERENCES, 3)
    assert (close.difference, close.low, close.high, close.p_value) == pytest.approx((0.009699109382096616, 0.0, 0.022620292204872394, 0.088), abs=1e-12)
    assert close.verdict == "tie"


def test_a_split_too_large_for_one_batch_draws_the_same_resamples():
    references = np.random.default_rng(3).integers(0, 4, 25_000)
    predictions = np.where(np.random.default_rng(4).random(25_000) < 0.7, references, 0)
    interval = bootstrap_intervals(predictions, references, 4)["f1_macro"]  # 800 resamples of 25k rows per batch
    assert (interval["low"], interval["high"]) == pytest.approx((0.7891324302175732, 0.7987965714063675), abs=1e-12)


def test_reliability_bins_equal_the_hand_written_ones():
    confidences = np.random.default_rng(1).uniform(0.3, 1.0, 200)
    correct = np.random.default_rng(2).random(200) < confidences
    table = reliability_table(confidences, correct)
    assert [row["rows"] for row in table] == [0, 0, 0, 21, 34, 32, 27, 25, 38, 23]
    assert table[0] == {"low": 0.0, "high": 0.1, "rows": 0, "confidence": 0.0, "accuracy": 0.0}
    assert (table[3]["confidence"], table[3]["accuracy"]) == pytest.approx((0.35001671618714897, 8 / 21), abs=1e-12)
    assert (table[9]["confidence"], table[9]["accuracy"]) == pytest.approx((0.9582079094286649, 1.0), abs=1e-12)
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.037383994884979246, abs=1e-12)


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
    from hubtools.card.dataset import plot_label_distribution
    from hubtools.plotting import covered_code_points, drawable
    from hubtools.evaluation.plots import plot_confusion_matrix

    labels = ["🤖 bot", "joy 😀", "🥳"]
    assert all(ord(char) in covered_code_points() or char.isspace() for label in labels for char in drawable(label))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plot_confusion_matrix([[3, 1, 0], [0, 2, 1], [1, 0, 4]], labels, tmp_path / "matrix.png")
        plot_label_distribution({"label_names": labels, "splits": {"train": {"labels": dict.fromkeys(labels, 3)}}}, tmp_path / "labels.png")
    assert not [str(warning.message) for warning in caught if "Glyph" in str(warning.message)]
    assert (tmp_path / "matrix.png").stat().st_size > 0 and (tmp_path / "labels.png").stat().st_size > 0
