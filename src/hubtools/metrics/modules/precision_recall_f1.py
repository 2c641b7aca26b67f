"""Precision, recall and F1, macro- and weighted-averaged, plus binary scores for a positive class.

An evaluate metric module, loadable on its own, offline: `evaluate.load("path/to/precision_recall_f1.py")`.
Classes absent from both predictions and references still count in the averages when
`labels` lists them (scikit-learn's `labels` argument); a class never predicted scores 0, not NaN.
"""

import evaluate
from sklearn.metrics import precision_recall_fscore_support

from ._common import class_id_metric_info

_DESCRIPTION = "Precision, recall and F1 averaged over classes (macro, weighted) and, with pos_label, for one class."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list[int]): predicted class ids.
    references (list[int]): reference class ids.
    labels (list[int], optional): every class id of the task, so unseen classes count in the averages.
    pos_label (int, optional): class id of the positive class; adds binary `precision`, `recall`, `f1`.
Returns:
    precision_macro, recall_macro, f1_macro, precision_weighted, recall_weighted, f1_weighted (float)
    and, with pos_label, precision, recall, f1 (float).
"""


class PrecisionRecallF1(evaluate.Metric):
    def _info(self):
        return class_id_metric_info(_DESCRIPTION, _KWARGS_DESCRIPTION, "precision_recall_fscore_support")

    def _compute(self, predictions, references, labels=None, pos_label=None):
        results = {}
        for average in ("macro", "weighted"):
            precision, recall, f1, _ = precision_recall_fscore_support(
                references, predictions, labels=labels, average=average, zero_division=0
            )
            results.update({f"precision_{average}": float(precision), f"recall_{average}": float(recall), f"f1_{average}": float(f1)})
        if pos_label is not None:
            precision, recall, f1, _ = precision_recall_fscore_support(
                references, predictions, labels=labels, pos_label=pos_label, average="binary", zero_division=0
            )
            results.update({"precision": float(precision), "recall": float(recall), "f1": float(f1)})
        return results
