"""The card's machine-readable results: model-index (one EvalResult per metric on the test split) and, for a
dataset repo that declares itself a benchmark, `.eval_results/hubtools.yaml` entries for its tasks."""

from __future__ import annotations

from typing import Any

from huggingface_hub import EvalResult, EvalResultEntry

from hubtools.card.facts import CARD_METRICS, CardError, Links, card_metric_keys
from hubtools.metrics import metric_name
from hubtools.rundir import RunDir

CARD_DECIMALS = 4  # metadata values (model-index, .eval_results) are rounded; metrics.json keeps full precision
BENCHMARK_FILE = "eval.yaml"  # a dataset repo holding it declares itself a benchmark (task ids for .eval_results)
EVAL_RESULTS_FILE = ".eval_results/hubtools.yaml"  # in the card folder: this model's entries for a benchmark's tasks


def metric_key(result: Any) -> str:
    """The metrics.json key of a model-index EvalResult: accuracy, f1_macro, f1 (binary), ..."""
    average = (result.metric_args or {}).get("average")
    return result.metric_type if average in (None, "binary") else f"{result.metric_type}_{average}"


def eval_results(test: dict[str, Any], links: Links, dataset_name: str, positive_label: str | None) -> list[Any]:
    """model-index: one EvalResult per reported metric on the test split (validation chose the checkpoint, so it
    stays in the card's body), rounded to CARD_DECIMALS."""
    return [
        EvalResult(
            task_type="text-classification",
            task_name="Text Classification",
            dataset_type=links.dataset_repo_id or "custom",
            dataset_name=dataset_name,
            dataset_split="test",
            dataset_revision=links.dataset_revision,
            metric_type=CARD_METRICS[key][0],
            metric_name=f"Test {metric_name(key, positive_label)}",
            metric_args={"average": CARD_METRICS[key][1]} if CARD_METRICS[key][1] else None,
            metric_value=round(float(test[key]), CARD_DECIMALS),
        )
        for key in card_metric_keys(positive_label)
        if key in test
    ]


def eval_result_entries(test: dict[str, Any], links: Links, tasks: list[dict[str, Any]], date: str | None) -> list[Any]:
    """`.eval_results/*.yaml` entries: only for the tasks a benchmark dataset declares in its eval.yaml."""
    return [
        EvalResultEntry(
            dataset_id=links.dataset_repo_id,
            task_id=str(task["id"]),
            value=round(float(test[task["metric"]]), CARD_DECIMALS),
            dataset_revision=links.dataset_revision,
            date=date,
            source_url=f"{links.endpoint}/{links.model_repo_id}" if links.model_repo_id else None,  # metadata: an absolute URL
            source_name="hubtools evaluate" if links.model_repo_id else None,
            notes=f"{task.get('split', 'test')} split, {test.get('rows', '?')} rows, {task['metric']}",
        )
        for task in tasks
        if task.get("metric") in test and task.get("split", "test") == "test"
    ]


def benchmark_record(links: Links) -> dict[str, Any]:
    """Which dataset repo, revision and Hub a RUN/benchmark_tasks.json answers for."""
    return {"dataset_repo_id": links.dataset_repo_id, "dataset_revision": links.dataset_revision, "endpoint": links.endpoint}


def saved_benchmark_tasks(run: RunDir, links: Links) -> list[dict[str, Any]]:
    """The benchmark tasks `hubtools.card.benchmark.save_benchmark_tasks` read from the Hub for this dataset repo
    ([] without a dataset repo). A card is never rendered without the `.eval_results` it should have: a record
    missing, or kept for another repo, revision or Hub, is an error naming the command that reads it."""
    if not links.dataset_repo_id:
        return []
    saved = run.read_json(run.benchmark_tasks) if run.benchmark_tasks.is_file() else {}
    if {key: saved.get(key) for key in benchmark_record(links)} != benchmark_record(links):
        raise CardError(
            f"{run.benchmark_tasks}: holds no answer for dataset repo {links.dataset_repo_id} at {links.endpoint}; "
            f"render with `hubtools card --run {run.root} --dataset-repo {links.dataset_repo_id}`, which reads its {BENCHMARK_FILE} first"
        )
    return saved["tasks"]
