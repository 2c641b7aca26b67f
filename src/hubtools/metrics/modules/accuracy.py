"""Accuracy: the fraction of predictions equal to their reference (an evaluate metric module).

Loadable on its own, offline: `evaluate.load("path/to/accuracy.py")`, like the Hub's `accuracy`.
"""

import evaluate
from sklearn.metrics import accuracy_score

from ._common import class_id_metric_info

_DESCRIPTION = "Fraction of predicted class ids equal to the reference class ids."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list[int]): predicted class ids.
    references (list[int]): reference class ids.
    labels (list[int], optional): accepted for symmetry with the other hubtools modules; unused.
    pos_label (int, optional): accepted for symmetry with the other hubtools modules; unused.
Returns:
    accuracy (float): in [0, 1].
"""


class Accuracy(evaluate.Metric):
    def _info(self):
        return class_id_metric_info(_DESCRIPTION, _KWARGS_DESCRIPTION, "accuracy_score")

    def _compute(self, predictions, references, labels=None, pos_label=None):
        return {"accuracy": float(accuracy_score(references, predictions))}
