"""Classification metrics built on `evaluate`, from metric modules shipped inside hubtools.

`evaluate.load("accuracy")` downloads its script from the Hub; hubtools ships its own modules in
`metrics/modules/` (one evaluate `Metric` per file), loads them with `evaluate.load(path)` and joins
them with `evaluate.combine`. The same code serves `hubtools evaluate` and Trainer's `compute_metrics`.

Class ids are positions in `label_names`. With two classes the binary `precision`, `recall`, `f1` of the
positive class are added: `positive_label` (the config's `data.positive_label`), by default `label_names[1]`
(e.g. ["negative", "positive"]).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from hubtools.errors import HubtoolsError

MODULES_DIR = Path(__file__).resolve().parent / "modules"
SCALAR_MODULES = ("accuracy", "precision_recall_f1")
# metrics.json key -> name for people; binary ones name their positive class: "F1 (irony)"
METRIC_NAMES = {
    "accuracy": "Accuracy",
    "f1_macro": "F1 (macro)",
    "f1_weighted": "F1 (weighted)",
    "precision_macro": "Precision (macro)",
    "recall_macro": "Recall (macro)",
    "precision_weighted": "Precision (weighted)",
    "recall_weighted": "Recall (weighted)",
    "f1": "F1 ({positive})",
    "precision": "Precision ({positive})",
    "recall": "Recall ({positive})",
}
DETAIL_MODULES = ("per_class", "confusion_matrix")


@functools.lru_cache(maxsize=None)
def load_metric(name: str) -> Any:
    """Load one shipped module by name (e.g. "accuracy") with `evaluate.load`; works offline.

    Args:
        name: a module file of `metrics/modules/` without ".py".
    """
    import evaluate

    return evaluate.load(str(MODULES_DIR / f"{name}.py"), keep_in_memory=True)


def combined_metrics(detailed: bool = False) -> Any:
    """`evaluate.combine` of the scalar modules, plus per-class and confusion matrix when `detailed`."""
    import evaluate

    names = SCALAR_MODULES + (DETAIL_MODULES if detailed else ())
    return evaluate.combine({name: load_metric(name) for name in names})


def positive_index(label_names: Sequence[str], positive_label: str | None = None) -> int | None:
    """Class id of the positive class of a binary task (default the second label); None with more classes.

    Args:
        label_names: the labels in class id order.
        positive_label: the config's `data.positive_label`, or None.

    Raises:
        HubtoolsError: `positive_label` is not one of `label_names`.
    """
    if positive_label is not None and positive_label not in label_names:
        raise HubtoolsError(f"data.positive_label {positive_label!r} is not one of the labels ({', '.join(label_names)}); set it to one of them")
    if len(label_names) != 2:
        return None
    return list(label_names).index(positive_label) if positive_label is not None else 1


def task_metric(label_names: Sequence[str], positive_label: str | None = None) -> str:
    """The metrics.json key a task is judged by: the positive class's F1 (`f1`) for a binary task, else `f1_macro`."""
    return "f1" if positive_index(label_names, positive_label) is not None else "f1_macro"


def metric_name(key: str, positive_label: str | None = None) -> str:
    """The one name people read for a metrics.json key: `f1_macro` -> "F1 (macro)"; the binary `f1` -> "F1 (irony)".

    Args:
        key: a key of METRIC_NAMES.
        positive_label: the positive class that binary metrics name (default "positive class").
    """
    return METRIC_NAMES[key].format(positive=positive_label or "positive class")


def compute_classification_metrics(
    predictions: Sequence[int], references: Sequence[int], label_names: Sequence[str], detailed: bool = False,
    positive_label: str | None = None,
) -> dict[str, Any]:
    """Flat dict of float metrics: accuracy, {precision,recall,f1}_{macro,weighted}, and binary ones for two classes.

    With `detailed=True` it also holds `per_class` ({label name: {precision, recall, f1, support}})
    and `confusion_matrix` (rows = reference, columns = prediction, in `label_names` order).

    Args:
        predictions: predicted class id per row.
        references: true class id per row.
        label_names: the labels in class id order.
        detailed: add `per_class` and `confusion_matrix`.
        positive_label: the positive class of a binary task (default the second label).

    Raises:
        HubtoolsError: `positive_label` is not one of `label_names`.
    """
    results = combined_metrics(detailed).compute(
        predictions=[int(p) for p in predictions],
        references=[int(r) for r in references],
        labels=list(range(len(label_names))),
        pos_label=positive_index(label_names, positive_label),
    )
    if detailed:
        results["per_class"] = {label_names[row.pop("label")]: row for row in results["per_class"]}
    return results


def compute_classification_report(
    predictions: Sequence[int], references: Sequence[int], label_names: Sequence[str], positive_label: str | None = None
) -> dict[str, Any]:
    """Scalar metrics plus `per_class` and `confusion_matrix` (see `compute_classification_metrics`)."""
    return compute_classification_metrics(predictions, references, label_names, detailed=True, positive_label=positive_label)


def trainer_compute_metrics(label_names: Sequence[str], positive_label: str | None = None) -> Callable[[Any], dict[str, float]]:
    """A `compute_metrics` for transformers' Trainer: EvalPrediction (logits, label ids) -> dict of floats."""
    names = list(label_names)

    def compute_metrics(eval_prediction: Any) -> dict[str, float]:
        logits = eval_prediction.predictions
        if isinstance(logits, tuple):  # models that also return hidden states put the logits first
            logits = logits[0]
        predictions = np.asarray(logits).argmax(axis=-1)
        return compute_classification_metrics(predictions, np.asarray(eval_prediction.label_ids), names, positive_label=positive_label)

    return compute_metrics


__all__ = [
    "compute_classification_metrics",
    "compute_classification_report",
    "trainer_compute_metrics",
    "combined_metrics",
    "load_metric",
    "positive_index",
    "task_metric",
    "metric_name",
    "METRIC_NAMES",
]
