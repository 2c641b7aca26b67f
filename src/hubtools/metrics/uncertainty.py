"""How far a test-split score can be trusted: bootstrap intervals, a paired test against another model, calibration.

Resampling is `scipy.stats.bootstrap` (`paired=True`: every sample is resampled on the same rows; `vectorized=True`:
one call scores a whole batch of resamples; percentile intervals; a fixed seed, so the same predictions always
give the same interval). Each resample's scores come from its confusion matrix, one `bincount` for the batch (a
class never predicted scores 0, scikit-learn's `zero_division=0`, as in `precision_recall_f1`). Reliability bins
are scikit-learn's `calibration_curve` (equal-width bins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Sequence

import numpy as np

RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 42
CALIBRATION_BINS = 10
SIGNIFICANCE = 0.05
INTERVAL_METRICS = ("accuracy", "f1_macro", "f1_weighted")
BATCH_CELLS = 20_000_000  # resampled rows x test rows held in memory at once
# How a paired test's verdict reads in a sentence: "the model beats the TF-IDF baseline".
VERDICT_WORDS = {"better": "beats", "worse": "scores below", "tie": "cannot be told apart from"}


def confusion_matrices(predictions: np.ndarray, references: np.ndarray, classes: int) -> np.ndarray:
    """Stacked confusion matrices of index rows, one per row of `predictions`/`references`.

    Args:
        predictions: (resamples, rows) predicted class ids.
        references: (resamples, rows) true class ids.
        classes: number of classes.

    Returns:
        (resamples, classes, classes) counts, rows true and columns predicted.
    """
    resamples = predictions.shape[0]
    offsets = (np.arange(resamples) * classes * classes)[:, None]
    cells = offsets + references * classes + predictions
    return np.bincount(cells.ravel(), minlength=resamples * classes * classes).reshape(resamples, classes, classes)


def scores_from_confusion(
    matrices: np.ndarray, positive: int | None = None, label_names: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Every score of each stacked confusion matrix.

    Args:
        matrices: (resamples, classes, classes) from `confusion_matrices`.
        positive: class id whose binary `f1`/`precision`/`recall` are added (binary tasks), or None.
        label_names: when given, `per_class/LABEL/{precision,recall,f1}` are added (the claims a card may make).

    Returns:
        {score name: (resamples,) values}: accuracy and precision/recall/F1 macro and weighted; a class never
        predicted (or absent) scores 0, as scikit-learn's `zero_division=0`.
    """
    true_positives = np.diagonal(matrices, axis1=1, axis2=2).astype(float)
    support = matrices.sum(axis=2).astype(float)
    predicted = matrices.sum(axis=1).astype(float)
    total = support.sum(axis=1)

    def ratio(denominator: np.ndarray, numerator: np.ndarray = true_positives) -> np.ndarray:
        return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)

    per_class = {"precision": ratio(predicted), "recall": ratio(support), "f1": ratio(support + predicted, 2 * true_positives)}
    scores = {"accuracy": true_positives.sum(axis=1) / total}
    for name, values in per_class.items():
        scores[f"{name}_macro"] = values.mean(axis=1)
        scores[f"{name}_weighted"] = (values * support).sum(axis=1) / total
        if positive is not None:
            scores[name] = values[:, positive]
        for index, label in enumerate(label_names or ()):
            scores[f"per_class/{label}/{name}"] = values[:, index]
    return scores


def _bootstrap(samples: Sequence[np.ndarray], statistic: Callable[..., np.ndarray], resamples: int, seed: int):
    """`scipy.stats.bootstrap` over paired samples of equal length, percentile intervals, in batches that hold
    at most BATCH_CELLS resampled rows."""
    from scipy.stats import bootstrap

    rows = len(samples[0])
    return bootstrap(
        tuple(np.asarray(sample) for sample in samples), statistic, n_resamples=resamples, batch=max(1, BATCH_CELLS // max(rows, 1)),
        vectorized=True, paired=True, confidence_level=CONFIDENCE, method="percentile", rng=np.random.default_rng(seed),
    )


def _score_table(classes: int, positive: int | None, label_names: Sequence[str] | None) -> tuple[list[str], Callable[..., np.ndarray]]:
    """The score names and a vectorised bootstrap statistic: (batch, rows) predictions and references -> (scores, batch)."""
    names = list(scores_from_confusion(np.ones((1, classes, classes), dtype=int), positive, label_names))

    def statistic(predictions: np.ndarray, references: np.ndarray, axis: int = -1) -> np.ndarray:
        predictions, references = np.atleast_2d(predictions), np.atleast_2d(references)
        scores = scores_from_confusion(confusion_matrices(predictions, references, classes), positive, label_names)
        return np.stack([scores[name] for name in names])

    return names, statistic


def _intervals(
    predictions: Sequence[int], references: Sequence[int], classes: int, positive: int | None, label_names: Sequence[str] | None,
    resamples: int, seed: int,
) -> dict[str, tuple[float, float]]:
    names, statistic = _score_table(classes, positive, label_names)
    interval = _bootstrap((predictions, references), statistic, resamples, seed).confidence_interval
    return {name: (float(low), float(high)) for name, low, high in zip(names, interval.low, interval.high)}


def bootstrap_intervals(
    predictions: Sequence[int], references: Sequence[int], classes: int, positive: int | None = None,
    resamples: int = RESAMPLES, seed: int = SEED,
) -> dict[str, dict[str, float]]:
    """Percentile 95% bootstrap intervals of every score of `scores_from_confusion` (resampled test rows).

    Args:
        predictions: predicted class id per test row.
        references: true class id per test row.
        classes: number of classes.
        positive: class id of a binary task's positive class (adds `f1`, `precision`, `recall`), or None.
        resamples: bootstrap resamples.
        seed: seed of the resampling, so the same predictions always give the same interval.

    Returns:
        {metric: {"low", "high"}}.
    """
    intervals = _intervals(predictions, references, classes, positive, None, resamples, seed)
    return {name: {"low": low, "high": high} for name, (low, high) in intervals.items()}


def claim_intervals(
    predictions: Sequence[int], references: Sequence[int], label_names: Sequence[str], positive: int | None = None,
    resamples: int = RESAMPLES, seed: int = SEED,
) -> dict[str, tuple[float, float]]:
    """Percentile 95% bootstrap intervals of every score a card may claim, per-class ones included.

    Args:
        predictions: predicted class id per test row.
        references: true class id per test row.
        label_names: the class names, in class id order (they name the `per_class/LABEL/...` keys).
        positive: class id of a binary task's positive class, or None.
        resamples: bootstrap resamples.
        seed: seed of the resampling.

    Returns:
        {metric: (low, high)} for every key of `scores_from_confusion(..., label_names=label_names)`.
    """
    return _intervals(predictions, references, len(label_names), positive, label_names, resamples, seed)


def interval_summary(resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, float | int | str]:
    """How the intervals were made, for metrics.json and the card."""
    return {"method": "percentile bootstrap", "confidence": CONFIDENCE, "resamples": resamples, "seed": seed}


@dataclass(frozen=True)
class PairedTest:
    """Paired bootstrap of `metric`: model minus other on the same resampled rows."""

    metric: str
    difference: float  # on the full test split
    low: float
    high: float
    p_value: float  # two-sided
    resamples: int

    @property
    def verdict(self) -> str:
        """"better", "worse" or "tie" (cannot be told apart at the 5% level)."""
        if self.p_value >= SIGNIFICANCE:
            return "tie"
        return "better" if self.difference > 0 else "worse"

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "test": "paired bootstrap", "metric": self.metric, "difference": self.difference, "low": self.low,
            "high": self.high, "p_value": self.p_value, "resamples": self.resamples, "verdict": self.verdict,
        }


def paired_bootstrap_test(
    predictions: Sequence[int], other_predictions: Sequence[int], references: Sequence[int], classes: int,
    metric: str = "f1_macro", positive: int | None = None, resamples: int = RESAMPLES, seed: int = SEED,
) -> PairedTest:
    """Is the model's `metric` different from the other model's on the same rows?

    Args:
        predictions: the model's class id per test row.
        other_predictions: the other model's class id per test row (e.g. the TF-IDF baseline).
        references: true class id per test row.
        classes: number of classes.
        metric: a score of `scores_from_confusion` (e.g. "f1_macro", or the binary "f1" with `positive`).
        positive: class id of a binary task's positive class, or None.
        resamples: bootstrap resamples, both models scored on each.
        seed: seed of the resampling.

    Returns:
        The difference on the full split, its 95% percentile interval and a two-sided p-value: the share of
        resamples on which the difference changes sign, each side doubled, capped at 1.
    """

    def difference(ours: np.ndarray, theirs: np.ndarray, truth: np.ndarray, axis: int = -1) -> np.ndarray:
        ours, theirs, truth = np.atleast_2d(ours), np.atleast_2d(theirs), np.atleast_2d(truth)
        return (
            scores_from_confusion(confusion_matrices(ours, truth, classes), positive)[metric]
            - scores_from_confusion(confusion_matrices(theirs, truth, classes), positive)[metric]
        )

    result = _bootstrap((predictions, other_predictions, references), difference, resamples, seed)
    differences = result.bootstrap_distribution
    observed = float(difference(np.asarray(predictions), np.asarray(other_predictions), np.asarray(references))[0])
    p_value = min(1.0, 2 * min(float(np.mean(differences <= 0)), float(np.mean(differences >= 0))))
    interval = result.confidence_interval
    return PairedTest(metric, observed, float(interval.low), float(interval.high), p_value, resamples)


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = CALIBRATION_BINS) -> float:
    """Top-label ECE: sum over equal-width confidence bins of |accuracy - mean confidence| x share of rows.

    Args:
        confidences: the predicted class's probability per row.
        correct: whether each row's prediction is right.
        bins: equal-width bins over [0, 1].
    """
    table = reliability_table(confidences, correct, bins)
    rows = sum(row["rows"] for row in table)
    return float(sum(row["rows"] / rows * abs(row["accuracy"] - row["confidence"]) for row in table if row["rows"]))


def reliability_table(confidences: Sequence[float], correct: Sequence[bool], bins: int = CALIBRATION_BINS) -> list[dict[str, float]]:
    """Per equal-width confidence bin: its edges, rows, mean confidence and accuracy (0 for an empty bin).

    Args:
        confidences: the predicted class's probability per row.
        correct: whether each row's prediction is right.
        bins: equal-width bins over [0, 1] (a value on an edge falls in the lower bin, as in `calibration_curve`).
    """
    from sklearn.calibration import calibration_curve

    confidences = np.clip(np.asarray(confidences, dtype=float), 0.0, 1.0)  # float32 softmax may pass 1 by an ulp
    correct = np.asarray(correct, dtype=int)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # calibration_curve returns the non-empty bins only; its own binning tells which they are
    rows = np.bincount(np.searchsorted(edges[1:-1], confidences), minlength=bins)
    accuracy, confidence = np.zeros(bins), np.zeros(bins)
    if len(confidences):
        accuracy[rows > 0], confidence[rows > 0] = calibration_curve(correct, confidences, n_bins=bins, strategy="uniform", pos_label=1)
    return [
        {"low": float(edges[index]), "high": float(edges[index + 1]), "rows": int(rows[index]),
         "confidence": float(confidence[index]), "accuracy": float(accuracy[index])}
        for index in range(bins)
    ]


def uncertainty_summary(probabilities: np.ndarray, references: Sequence[int], positive: int | None = None) -> dict[str, object]:
    """What metrics.json stores next to a split's scores: 95% intervals, how they were made, and the ECE.

    Args:
        probabilities: (rows, classes) predicted probabilities.
        references: true class id per row.
        positive: class id of a binary task's positive class, or None.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    predictions = probabilities.argmax(axis=1)
    correct = predictions == np.asarray(references)
    return {
        "intervals": bootstrap_intervals(predictions, references, probabilities.shape[1], positive),
        "interval_method": interval_summary(),
        "ece": expected_calibration_error(probabilities.max(axis=1), correct),
    }
