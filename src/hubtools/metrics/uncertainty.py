"""How far a test-split score can be trusted: bootstrap intervals, a paired test against another model, calibration.

Everything is vectorised numpy over all resamples at once: each resample's confusion matrix is one
`bincount`, and accuracy / F1 come from the stacked matrices (F1 of a class never predicted is 0, as
in `precision_recall_f1`). The resamples are seeded, so the same predictions always give the same interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 42
CALIBRATION_BINS = 10
SIGNIFICANCE = 0.05
INTERVAL_METRICS = ("accuracy", "f1_macro", "f1_weighted")
_CHUNK_CELLS = 20_000_000  # resample rows x test rows held in memory at once


def confusion_matrices(predictions: np.ndarray, references: np.ndarray, classes: int) -> np.ndarray:
    """(resamples, classes, classes) confusion matrices of index rows `predictions`/`references` (rows true, columns predicted)."""
    resamples = predictions.shape[0]
    offsets = (np.arange(resamples) * classes * classes)[:, None]
    cells = offsets + references * classes + predictions
    return np.bincount(cells.ravel(), minlength=resamples * classes * classes).reshape(resamples, classes, classes)


def scores_from_confusion(matrices: np.ndarray, positive: int | None = None) -> dict[str, np.ndarray]:
    """accuracy and f1/precision/recall (macro and weighted; binary of class `positive` when given) for each
    stacked confusion matrix; a class never predicted (or absent) scores 0, as scikit-learn's zero_division=0."""
    true_positives = np.diagonal(matrices, axis1=1, axis2=2).astype(float)
    support = matrices.sum(axis=2).astype(float)
    predicted = matrices.sum(axis=1).astype(float)
    total = support.sum(axis=1)

    def ratio(denominator: np.ndarray, numerator: np.ndarray = true_positives) -> np.ndarray:
        return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)

    per_class = {"f1": ratio(support + predicted, 2 * true_positives), "precision": ratio(predicted), "recall": ratio(support)}
    scores = {"accuracy": true_positives.sum(axis=1) / total}
    for name, values in per_class.items():
        scores[f"{name}_macro"] = values.mean(axis=1)
        scores[f"{name}_weighted"] = (values * support).sum(axis=1) / total
        if positive is not None:
            scores[name] = values[:, positive]
    return scores


def _resample_indices(rows: int, resamples: int, seed: int) -> list[np.ndarray]:
    generator = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_CELLS // max(rows, 1))
    chunks, left = [], resamples
    while left > 0:
        size = min(per_chunk, left)
        chunks.append(generator.integers(0, rows, size=(size, rows)))
        left -= size
    return chunks


def bootstrap_scores(
    predictions: Sequence[int], references: Sequence[int], classes: int, positive: int | None = None,
    resamples: int = RESAMPLES, seed: int = SEED, paired_with: Sequence[int] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """Scores of every resample; with `paired_with`, the other model's scores on the very same resamples."""
    predictions, references = np.asarray(predictions), np.asarray(references)
    other = np.asarray(paired_with) if paired_with is not None else None
    ours, theirs = [], []
    for indices in _resample_indices(len(references), resamples, seed):
        truth = references[indices]
        ours.append(scores_from_confusion(confusion_matrices(predictions[indices], truth, classes), positive))
        if other is not None:
            theirs.append(scores_from_confusion(confusion_matrices(other[indices], truth, classes), positive))

    def stack(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}

    return stack(ours), (stack(theirs) if other is not None else None)


def bootstrap_intervals(
    predictions: Sequence[int], references: Sequence[int], classes: int, positive: int | None = None,
    resamples: int = RESAMPLES, seed: int = SEED,
) -> dict[str, dict[str, float]]:
    """Percentile 95% intervals: {metric: {"low", "high"}} for every score of `scores_from_confusion`."""
    scores, _ = bootstrap_scores(predictions, references, classes, positive, resamples, seed)
    tail = (1 - CONFIDENCE) / 2 * 100
    return {key: {"low": float(np.percentile(values, tail)), "high": float(np.percentile(values, 100 - tail))} for key, values in scores.items()}


def claim_scores_from_confusion(matrices: np.ndarray, label_names: Sequence[str], positive: int | None = None) -> dict[str, np.ndarray]:
    """Every score a card may claim, per stacked confusion matrix: accuracy, precision/recall/F1 macro and weighted,
    the binary ones of class `positive`, and `per_class/LABEL/{precision,recall,f1}` (0 where undefined, as in
    `precision_recall_f1`)."""
    true_positives = np.diagonal(matrices, axis1=1, axis2=2).astype(float)
    support = matrices.sum(axis=2).astype(float)
    predicted = matrices.sum(axis=1).astype(float)
    total = support.sum(axis=1)
    precision = np.divide(true_positives, predicted, out=np.zeros_like(true_positives), where=predicted > 0)
    recall = np.divide(true_positives, support, out=np.zeros_like(true_positives), where=support > 0)
    f1 = np.divide(2 * true_positives, support + predicted, out=np.zeros_like(true_positives), where=support + predicted > 0)
    scores = {"accuracy": true_positives.sum(axis=1) / total}
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        scores[f"{name}_macro"] = values.mean(axis=1)
        scores[f"{name}_weighted"] = (values * support).sum(axis=1) / total
        if positive is not None:
            scores[name] = values[:, positive]
        for index, label in enumerate(label_names):
            scores[f"per_class/{label}/{name}"] = values[:, index]
    return scores


def claim_intervals(
    predictions: Sequence[int], references: Sequence[int], label_names: Sequence[str], positive: int | None = None,
    resamples: int = RESAMPLES, seed: int = SEED,
) -> dict[str, tuple[float, float]]:
    """Percentile 95% bootstrap intervals of every score in `claim_scores_from_confusion` (resampled test rows)."""
    predictions, references = np.asarray(predictions), np.asarray(references)
    parts = [
        claim_scores_from_confusion(confusion_matrices(predictions[indices], references[indices], len(label_names)), label_names, positive)
        for indices in _resample_indices(len(references), resamples, seed)
    ]
    tail = (1 - CONFIDENCE) / 2 * 100
    intervals = {}
    for key in parts[0]:
        values = np.concatenate([part[key] for part in parts])
        intervals[key] = (float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)))
    return intervals


def interval_summary(resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, float | int | str]:
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
    """Is the model's `metric` different from the other model's on the same rows? Two-sided p-value from the
    share of resamples on which the difference changes sign (each side doubled, capped at 1)."""
    ours, theirs = bootstrap_scores(predictions, references, classes, positive, resamples, seed, paired_with=other_predictions)
    differences = ours[metric] - theirs[metric]
    full_ours = scores_from_confusion(confusion_matrices(np.asarray([predictions]), np.asarray([references]), classes), positive)
    full_theirs = scores_from_confusion(confusion_matrices(np.asarray([other_predictions]), np.asarray([references]), classes), positive)
    observed = float(full_ours[metric][0] - full_theirs[metric][0])
    at_or_below, at_or_above = float(np.mean(differences <= 0)), float(np.mean(differences >= 0))
    p_value = min(1.0, 2 * min(at_or_below, at_or_above))
    tail = (1 - CONFIDENCE) / 2 * 100
    return PairedTest(
        metric, observed, float(np.percentile(differences, tail)), float(np.percentile(differences, 100 - tail)), p_value, resamples
    )


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = CALIBRATION_BINS) -> float:
    """Top-label ECE: sum over equal-width confidence bins of |accuracy - mean confidence| x share of rows."""
    table = reliability_table(confidences, correct, bins)
    rows = sum(row["rows"] for row in table)
    return float(sum(row["rows"] / rows * abs(row["accuracy"] - row["confidence"]) for row in table if row["rows"]))


def reliability_table(confidences: Sequence[float], correct: Sequence[bool], bins: int = CALIBRATION_BINS) -> list[dict[str, float]]:
    """Per equal-width confidence bin: its edges, rows, mean confidence and accuracy (0 for an empty bin)."""
    confidences, correct = np.asarray(confidences, dtype=float), np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidences, edges[1:-1], right=True), 0, bins - 1)
    rows = np.bincount(which, minlength=bins)
    confidence_sum = np.bincount(which, weights=confidences, minlength=bins)
    correct_sum = np.bincount(which, weights=correct, minlength=bins)
    return [
        {
            "low": float(edges[index]), "high": float(edges[index + 1]), "rows": int(rows[index]),
            "confidence": float(confidence_sum[index] / rows[index]) if rows[index] else 0.0,
            "accuracy": float(correct_sum[index] / rows[index]) if rows[index] else 0.0,
        }
        for index in range(bins)
    ]


def uncertainty_summary(probabilities: np.ndarray, references: Sequence[int], positive: int | None = None) -> dict[str, object]:
    """What metrics.json stores next to a split's scores: 95% intervals, how they were made, and the ECE."""
    probabilities = np.asarray(probabilities, dtype=float)
    predictions = probabilities.argmax(axis=1)
    correct = predictions == np.asarray(references)
    return {
        "intervals": bootstrap_intervals(predictions, references, probabilities.shape[1], positive),
        "interval_method": interval_summary(),
        "ece": expected_calibration_error(probabilities.max(axis=1), correct),
    }
