"""Per-class precision, recall, F1 and support (an evaluate metric module).

Loadable on its own, offline: `evaluate.load("path/to/per_class.py")`
"""

import evaluate
from sklearn.metrics import precision_recall_fscore_support

from ._common import class_id_metric_info

_DESCRIPTION = "Precision, recall, F1 and support of each class, in the order of `labels`."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list[int]): predicted class ids.
    references (list[int]): reference class ids.
    labels (list[int], optional): the class ids to report, in order (default: those seen, sorted).
    pos_label (int, optional): accepted for symmetry with the other hubtools modules; unused.
Returns:
    per_class (list[dict]): one {label, precision, recall, f1, support} per class id in `labels`.
"""


class PerClass(evaluate.Metric):
    def _info(self):
        return class_id_metric_info(_DESCRIPTION, _KWARGS_DESCRIPTION, "precision_recall_fscore_support")

    def _compute(self, predictions, references, labels=None, pos_label=None):
        labels = list(labels) if labels is not None else sorted(set(references) | set(predictions))
        precision, recall, f1, support = precision_recall_fscore_support(
            references, predictions, labels=labels, average=None, zero_division=0
        )
        return {
            "per_class": [
                {"label": int(label), "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for label, p, r, f, s in zip(labels, precision, recall, f1, support)
            ]
        }
