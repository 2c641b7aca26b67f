"""Confusion matrix: counts[i][j] = examples of reference class i predicted as class j (an evaluate metric module).

Loadable on its own, offline: `evaluate.load("path/to/confusion_matrix.py")`
"""

import evaluate
from sklearn.metrics import confusion_matrix

from ._common import class_id_metric_info

_DESCRIPTION = "Counts of (reference, prediction) pairs; rows are references, columns predictions."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list[int]): predicted class ids.
    references (list[int]): reference class ids.
    labels (list[int], optional): row/column order (default: the classes seen, sorted).
    pos_label (int, optional): accepted for symmetry with the other hubtools modules; unused.
Returns:
    confusion_matrix (list[list[int]]): square matrix of counts.
"""


class ConfusionMatrix(evaluate.Metric):
    def _info(self):
        return class_id_metric_info(_DESCRIPTION, _KWARGS_DESCRIPTION, "confusion_matrix")

    def _compute(self, predictions, references, labels=None, pos_label=None):
        return {"confusion_matrix": confusion_matrix(references, predictions, labels=labels).tolist()}
