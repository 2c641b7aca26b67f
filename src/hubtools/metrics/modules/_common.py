"""What the hubtools metric modules share: inputs are integer class ids (positions in the label names)."""

import datasets
import evaluate

SKLEARN_DOCS = "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.{}.html"


def class_id_metric_info(description: str, inputs_description: str, sklearn_function: str) -> evaluate.MetricInfo:
    return evaluate.MetricInfo(
        description=description,
        citation="",
        inputs_description=inputs_description,
        features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        reference_urls=[SKLEARN_DOCS.format(sklearn_function)],
    )
