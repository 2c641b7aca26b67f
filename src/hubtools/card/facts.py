"""The card's verdicts, read from the run's metrics into typed values: the headline rows (test score, 95% interval,
validation score, the task's metric first), the paired tests against the TF-IDF baseline and the comparison with
the majority class. Pure: it reads dicts the run directory holds and computes nothing new."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubtools.errors import HubtoolsError
from hubtools.metrics import metric_name
from hubtools.rundir import RunDir

# Metric key in metrics.json -> (model-index metric type, average, pretty name); names for people: metrics.metric_name.
CARD_METRICS = {
    "accuracy": ("accuracy", None, "Accuracy"),
    "f1_macro": ("f1", "macro", "F1 (macro)"),
    "f1_weighted": ("f1", "weighted", "F1 (weighted)"),
    "precision_macro": ("precision", "macro", "Precision (macro)"),
    "recall_macro": ("recall", "macro", "Recall (macro)"),
    "precision_weighted": ("precision", "weighted", "Precision (weighted)"),
    "recall_weighted": ("recall", "weighted", "Recall (weighted)"),
    "f1": ("f1", "binary", "F1 (binary)"),
    "precision": ("precision", "binary", "Precision (binary)"),
    "recall": ("recall", "binary", "Recall (binary)"),
}


def card_metric_keys(positive_label: str | None) -> list[str]:
    """CARD_METRICS keys in the card's order: a binary task leads with its own metric, the positive class's F1, then F1 (macro)."""
    lead = ["f1", "f1_macro"] if positive_label else []
    return lead + [key for key in CARD_METRICS if key not in lead]


@dataclass(frozen=True)
class HeadlineRow:
    name: str
    test: float
    low: float | None
    high: float | None
    validation: float | None


@dataclass(frozen=True)
class BaselineVerdict:
    """How the model compares with the TF-IDF baseline on the test split (paired bootstrap) on one metric."""

    baseline_name: str
    metric: str
    model_value: float
    baseline_value: float
    difference: float
    low: float
    high: float
    p_value: float
    verdict: str  # better | worse | tie


@dataclass(frozen=True)
class MajorityVerdict:
    """The model's test accuracy against always predicting the most frequent test label."""

    label: str
    rate: float  # accuracy of the majority class
    f1_macro: float
    accuracy: float
    low: float | None
    high: float | None
    verdict: str  # better (interval above the rate) | tie | worse (at or below the rate)


def headline_rows(metrics: dict[str, dict[str, Any]], positive_label: str | None) -> list[HeadlineRow]:
    test, validation = metrics["test"], metrics.get("validation", {})
    intervals = test.get("intervals", {})
    return [
        HeadlineRow(
            metric_name(key, positive_label), test[key], intervals.get(key, {}).get("low"), intervals.get(key, {}).get("high"),
            validation.get(key),
        )
        for key in card_metric_keys(positive_label)
        if key in test
    ]


def baseline_verdicts(report: dict[str, Any]) -> list[BaselineVerdict]:
    """The paired tests against the baseline, the task's own metric first: binary F1 of the positive label when the
    task has one, then F1 (macro)."""
    if "baseline" not in report:
        return []
    tests = [report[key] for key in ("vs_baseline_binary", "vs_baseline") if key in report]
    return [
        BaselineVerdict(
            baseline_name=report["baseline"]["name"], metric=metric_name(test["metric"], report.get("positive_label")),
            model_value=report[test["metric"]], baseline_value=report["baseline"][test["metric"]], difference=test["difference"],
            low=test["low"], high=test["high"], p_value=test["p_value"], verdict=test["verdict"],
        )
        for test in tests
    ]


def majority_verdict(report: dict[str, Any], test: dict[str, Any]) -> MajorityVerdict:
    majority = report["majority_class"]
    interval = test.get("intervals", {}).get("accuracy", {})
    low, high = interval.get("low"), interval.get("high")
    if test["accuracy"] <= majority["accuracy"]:
        verdict = "worse"
    elif low is None or low > majority["accuracy"]:
        verdict = "better"
    else:
        verdict = "tie"
    return MajorityVerdict(majority["label"], majority["accuracy"], majority["f1_macro"], test["accuracy"], low, high, verdict)


DEFAULT_ENDPOINT = "https://huggingface.co"
EXAMPLE_CHARACTERS = 160


class CardError(HubtoolsError):
    """A card that cannot be rendered from what the run directory holds."""


@dataclass
class Links:
    """Hub addresses known at publish time; each may be missing when a card is rendered for review."""

    model_repo_id: str | None = None
    dataset_repo_id: str | None = None
    space_repo_id: str | None = None
    endpoint: str = DEFAULT_ENDPOINT
    dataset_revision: str | None = None  # the dataset repo's commit, when published together

    def __post_init__(self) -> None:
        self.endpoint = (self.endpoint or DEFAULT_ENDPOINT).rstrip("/")

    # Card links are relative to the Hub that serves the card: right on huggingface.co and on any other Hub,
    # whatever address (and port) it runs on.
    @property
    def model_url(self) -> str | None:
        return f"/{self.model_repo_id}" if self.model_repo_id else None

    @property
    def dataset_url(self) -> str | None:
        return f"/datasets/{self.dataset_repo_id}" if self.dataset_repo_id else None

    @property
    def space_url(self) -> str | None:
        return f"/spaces/{self.space_repo_id}" if self.space_repo_id else None

    @property
    def custom_endpoint(self) -> bool:
        return self.endpoint != DEFAULT_ENDPOINT


def read_optional_json(run: RunDir, path: Path) -> Any:
    return run.read_json(path) if path.is_file() else None


LOCAL_FOLDERS = re.compile(r"(?<![\w.:/])/(?:[^\s/()'\"]+/)+")


def hide_local_folders(text: str) -> str:
    """`/home/me/data/comments.csv (train split)` -> `comments.csv (train split)`: local folders mean nothing on the Hub."""
    return LOCAL_FOLDERS.sub("", text)


def shareable_stats(stats: dict[str, Any]) -> dict[str, Any]:
    splits = {name: {**split, "source": hide_local_folders(str(split.get("source", "")))} for name, split in stats["splits"].items()}
    return {**stats, "splits": splits}


def shareable_environment(environment: dict[str, Any]) -> dict[str, Any]:
    return {**environment, "command": [hide_local_folders(part) for part in environment.get("command", [])]}


def table_cell(text: Any, limit: int = EXAMPLE_CHARACTERS) -> str:
    """One line of text safe inside a markdown table cell, cut at `limit` characters."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat.replace("\\", "\\\\").replace("|", "\\|")
